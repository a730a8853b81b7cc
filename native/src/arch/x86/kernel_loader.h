// Loads a kernel image of any supported format into guest memory.
#pragma once

#include <cstdint>
#include <span>

#include "arch/x86/kernel_format.h"
#include "arch/x86/loaded_kernel.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

// Auto recognises ELF and bzImage by their headers. A raw binary has no
// header, so it is never guessed: it must be asked for as Flat.
KernelFormat detect_kernel_format(std::span<const std::uint8_t> image);

LoadedKernel load_kernel(std::span<const std::uint8_t> image, KernelFormat format,
                         const GuestMemory& memory);

}  // namespace nestbox::x86
