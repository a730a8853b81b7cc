// Raw binaries: copied to 1 MiB and entered at their first byte in long mode.
#pragma once

#include <cstdint>
#include <span>

#include "arch/x86/loaded_kernel.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

LoadedKernel load_flat_binary(std::span<const std::uint8_t> image, const GuestMemory& memory);

}  // namespace nestbox::x86
