// Linux bzImage per Documentation/arch/x86/boot.rst: validate the setup
// header, load the protected-mode kernel at 1 MiB, and enter it through the
// 64-bit boot protocol at startup_64 (load address + 0x200).
#pragma once

#include <asm/bootparam.h>

#include <cstdint>
#include <span>

#include "arch/x86/loaded_kernel.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

// Field offsets in the bzImage file (and in boot_params: the header is at the same place).
inline constexpr std::size_t kSetupHeaderOffset = 0x1f1;
inline constexpr std::size_t kBootFlagOffset = 0x1fe;
inline constexpr std::size_t kJumpOffset = 0x200;
inline constexpr std::size_t kHeaderMagicOffset = 0x202;
inline constexpr std::uint16_t kBootFlag = 0xaa55;
inline constexpr std::uint32_t kHeaderMagic = 0x53726448;  // "HdrS" read little-endian
inline constexpr std::uint16_t kMinimumBootProtocol = 0x020c;  // 2.12: XLF_KERNEL_64 exists
inline constexpr std::uint8_t kDefaultSetupSectors = 4;        // when setup_sects is 0
inline constexpr std::uint64_t kStartup64Offset = 0x200;
inline constexpr std::uint8_t kLoaderTypeUndefined = 0xff;

// Where a bzImage loaded at 1 MiB will unpack itself, and the end of all the
// memory it uses (the loaded image, and init_size bytes from the decompression
// address). Throws NestboxError for an impossible alignment or address.
struct KernelFootprint {
  std::uint64_t decompress_address;
  std::uint64_t init_size;
  std::uint64_t end;  // one past the last byte
};
KernelFootprint bzimage_footprint(const setup_header& header, std::uint64_t protected_mode_size);

// True when the image carries a boot sector signature and the "HdrS" magic.
bool has_linux_boot_header(std::span<const std::uint8_t> image);

LoadedKernel load_bzimage(std::span<const std::uint8_t> image, const GuestMemory& memory);

}  // namespace nestbox::x86
