#include "arch/x86/bzimage_loader.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "arch/x86/memory_layout.h"
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

  // The kernel decompresses in place and needs init_size bytes from its load
  // address; all of it must be RAM.
  const std::uint64_t footprint = std::max<std::uint64_t>(protected_mode.size(), header.init_size);
  if (!memory.contains(layout::kKernelLoadAddress, footprint)) {
    fail(ErrorCode::KernelTooLarge, "the kernel needs " + std::to_string((footprint >> 20) + 1) +
                                        " MiB of RAM above 1 MiB; give the machine more memory");
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
                      layout::kKernelLoadAddress, layout::kKernelLoadAddress + footprint,
                      header_for_kernel};
}

}  // namespace nestbox::x86
