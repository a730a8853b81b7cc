#include "arch/x86/bzimage_loader.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "arch/x86/memory_layout.h"
#include "common/hex.h"
#include "common/nestbox_error.h"

namespace nestbox::x86 {

namespace {

template <typename T>
T read_le(std::span<const std::uint8_t> image, std::size_t offset) {
  T value;
  std::memcpy(&value, image.data() + offset, sizeof value);
  return value;
}

[[noreturn]] void fail(ErrorCode code, const std::string& why) {
  throw NestboxError(code, "invalid bzImage: " + why);
}

std::string protocol_version_text(std::uint16_t version) {
  return std::to_string(version >> 8) + "." + std::to_string(version & 0xff);
}

constexpr std::size_t kHeaderEnd = kSetupHeaderOffset + sizeof(setup_header);

}  // namespace

KernelFootprint bzimage_footprint(const setup_header& header, std::uint64_t protected_mode_size) {
  // arch/x86/boot/compressed/head_64.S: a relocatable kernel decompresses at
  // its load address rounded up to kernel_alignment, but never below the
  // address it was linked for (pref_address, protocol 2.10+); a fixed one
  // decompresses at pref_address. It needs init_size bytes from there.
  const std::uint64_t load = layout::kKernelLoadAddress;
  const std::uint64_t preferred =
      header.version >= 0x020a && header.pref_address != 0 ? header.pref_address : load;
  std::uint64_t decompress = preferred;
  if (header.relocatable_kernel != 0) {
    const std::uint64_t alignment = header.kernel_alignment;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > layout::kGiB) {
      throw NestboxError(ErrorCode::NotAKernel, "invalid bzImage: kernel_alignment " +
                                                    to_hex(alignment) +
                                                    " is not a power of two up to 1 GiB");
    }
    decompress = std::max((load + alignment - 1) & ~(alignment - 1), preferred);
  }
  // Bound everything so no sum below can overflow: 64 GiB is far beyond any kernel.
  constexpr std::uint64_t kLimit = 64 * layout::kGiB;
  if (decompress > kLimit) {
    throw NestboxError(ErrorCode::NotAKernel,
                       "invalid bzImage: pref_address " + to_hex(decompress) + " is absurd");
  }
  // init_size arrived in 2.10; older kernels need at least their own size.
  const std::uint64_t init_size = header.version >= 0x020a ? header.init_size : 0;
  const std::uint64_t end = std::max(load + protected_mode_size, decompress + init_size);
  return KernelFootprint{decompress, init_size, end};
}

bool has_linux_boot_header(std::span<const std::uint8_t> image) {
  return image.size() >= kHeaderMagicOffset + 4 &&
         read_le<std::uint16_t>(image, kBootFlagOffset) == kBootFlag &&
         read_le<std::uint32_t>(image, kHeaderMagicOffset) == kHeaderMagic;
}

LoadedKernel load_bzimage(std::span<const std::uint8_t> image, const GuestMemory& memory) {
  if (image.size() < kHeaderMagicOffset + 4) {
    fail(ErrorCode::NotAKernel, "the file is too short to hold a Linux setup header");
  }
  if (read_le<std::uint16_t>(image, kBootFlagOffset) != kBootFlag) {
    fail(ErrorCode::NotAKernel, "no boot sector signature (0xAA55 at 0x1FE)");
  }
  if (read_le<std::uint32_t>(image, kHeaderMagicOffset) != kHeaderMagic) {
    fail(ErrorCode::NotAKernel, "no Linux boot header (\"HdrS\" at 0x202)");
  }
  // Protocol 2.12 headers reach 0x268; we read fields up to init_size.
  if (image.size() < kHeaderEnd) {
    fail(ErrorCode::NotAKernel, "the file ends inside the Linux setup header");
  }

  setup_header header;
  std::memcpy(&header, image.data() + kSetupHeaderOffset, sizeof header);
  if (header.version < kMinimumBootProtocol) {
    fail(ErrorCode::UnsupportedKernel,
         "Linux boot protocol " + protocol_version_text(header.version) +
             " is too old; Nestbox needs 2.12 or later (Linux 3.8+)");
  }
  if ((header.xloadflags & XLF_KERNEL_64) == 0) {
    fail(ErrorCode::UnsupportedKernel,
         "the kernel has no 64-bit entry point (XLF_KERNEL_64 is not set)");
  }
  if ((header.loadflags & LOADED_HIGH) == 0) {
    fail(ErrorCode::UnsupportedKernel,
         "the kernel does not load at 1 MiB (LOADED_HIGH is not set; zImage is not supported)");
  }

  const std::size_t setup_sectors =
      header.setup_sects == 0 ? kDefaultSetupSectors : header.setup_sects;
  const std::size_t setup_size = (setup_sectors + 1) * 512;
  if (image.size() <= setup_size) {
    fail(ErrorCode::NotAKernel, "truncated: the file ends inside the " +
                                    std::to_string(setup_size) + "-byte real-mode setup");
  }
  const std::span<const std::uint8_t> protected_mode = image.subspan(setup_size);
  // syssize counts 16-byte paragraphs, rounded up: compare in paragraphs.
  const std::uint64_t declared_size = std::uint64_t{header.syssize} * 16;
  if (header.syssize > (protected_mode.size() + 15) / 16) {
    fail(ErrorCode::NotAKernel, "truncated: the header declares " + std::to_string(declared_size) +
                                    " bytes of protected-mode kernel, the file has " +
                                    std::to_string(protected_mode.size()));
  }

  // Protocol 2.08+: the compressed payload must lie inside the protected-mode part.
  if (header.version >= 0x0208 && header.payload_length != 0 &&
      (header.payload_offset > protected_mode.size() ||
       header.payload_length > protected_mode.size() - header.payload_offset)) {
    fail(ErrorCode::NotAKernel, "truncated: the compressed payload (" +
                                    std::to_string(header.payload_length) + " bytes at offset " +
                                    std::to_string(header.payload_offset) +
                                    ") extends past the end of the file");
  }

  const KernelFootprint footprint = bzimage_footprint(header, protected_mode.size());
  if (!memory.contains(layout::kKernelLoadAddress, footprint.end - layout::kKernelLoadAddress)) {
    fail(ErrorCode::KernelTooLarge,
         "the kernel needs RAM up to " + std::to_string((footprint.end + layout::kMiB - 1) >> 20) +
             " MiB (it decompresses into " + std::to_string(footprint.init_size >> 20) +
             " MiB at " + to_hex(footprint.decompress_address) + "); give the machine more memory");
  }
  memory.write(layout::kKernelLoadAddress, protected_mode);

  // The boot_params copy of the header ends where the file's does: at 0x202
  // plus the jump's displacement byte. Copy that much, never beyond the struct.
  setup_header header_for_kernel{};
  const std::size_t header_length =
      std::min<std::size_t>(kHeaderMagicOffset + image[kJumpOffset + 1], kHeaderEnd) -
      kSetupHeaderOffset;
  std::memcpy(&header_for_kernel, image.data() + kSetupHeaderOffset, header_length);

  return LoadedKernel{KernelFormat::BzImage, layout::kKernelLoadAddress + kStartup64Offset,
                      layout::kKernelLoadAddress, footprint.end, header_for_kernel};
}

}  // namespace nestbox::x86
