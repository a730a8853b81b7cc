#include "arch/x86/kernel_loader.h"

#include "arch/x86/bzimage_loader.h"
#include "arch/x86/elf_loader.h"
#include "arch/x86/flat_loader.h"
#include "common/nestbox_error.h"

namespace nestbox::x86 {

KernelFormat detect_kernel_format(std::span<const std::uint8_t> image) {
  if (has_elf_magic(image)) {
    return KernelFormat::Elf;
  }
  if (has_linux_boot_header(image)) {
    return KernelFormat::BzImage;
  }
  throw NestboxError(ErrorCode::NotAKernel,
                     "not a kernel: neither an ELF executable nor a Linux bzImage "
                     "(set the kernel format to 'flat' to boot a raw binary)");
}

LoadedKernel load_kernel(std::span<const std::uint8_t> image, KernelFormat format,
                         const GuestMemory& memory) {
  switch (format == KernelFormat::Auto ? detect_kernel_format(image) : format) {
    case KernelFormat::Flat: return load_flat_binary(image, memory);
    case KernelFormat::Elf: return load_elf_kernel(image, memory);
    case KernelFormat::BzImage: return load_bzimage(image, memory);
    case KernelFormat::Auto: break;
  }
  throw NestboxError(ErrorCode::NotAKernel, "unknown kernel format");
}

}  // namespace nestbox::x86
