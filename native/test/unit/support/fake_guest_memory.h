// Guest RAM for device tests: a real GuestMemory (memfd-backed, bounds-checked)
// at small sizes, so devices see exactly what they see in a VM.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace nestbox::test {

inline constexpr std::uint64_t kFakeRamSize = 1 << 20;

// One region [0, size).
GuestMemory make_guest_memory(std::uint64_t size = kFakeRamSize);
// Arbitrary regions (page-aligned, sorted), e.g. to test region boundaries.
GuestMemory make_guest_memory(std::vector<GuestRamRegion> regions);

}  // namespace nestbox::test
