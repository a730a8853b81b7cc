#include "arch/x86/flat_loader.h"

#include "arch/x86/memory_layout.h"
#include "common/nestbox_error.h"

namespace nestbox::x86 {

LoadedKernel load_flat_binary(std::span<const std::uint8_t> image, const GuestMemory& memory) {
  if (image.empty()) {
    throw NestboxError(ErrorCode::NotAKernel, "the flat binary is empty");
  }
  if (!memory.contains(layout::kKernelLoadAddress, image.size())) {
    throw NestboxError(ErrorCode::KernelTooLarge,
                       "the " + std::to_string(image.size()) +
                           "-byte flat binary does not fit in guest RAM at 1 MiB");
  }
  memory.write(layout::kKernelLoadAddress, image);
  return LoadedKernel{KernelFormat::Flat, layout::kKernelLoadAddress, layout::kKernelLoadAddress,
                      layout::kKernelLoadAddress + image.size(), std::nullopt};
}

}  // namespace nestbox::x86
