// The BIOS e820 memory map the kernel reads from boot_params.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "memory/guest_memory.h"

namespace nestbox::x86 {

enum class E820Type : std::uint32_t { Ram = 1, Reserved = 2 };

struct E820Entry {
  std::uint64_t address;
  std::uint64_t size;
  E820Type type;
};

// Low RAM up to the EBDA, the legacy BIOS/VGA area reserved up to 1 MiB, then
// the rest of each RAM region. The first region must start at 0 and extend past 1 MiB.
std::vector<E820Entry> build_e820_map(std::span<const GuestRamRegion> ram);

}  // namespace nestbox::x86
