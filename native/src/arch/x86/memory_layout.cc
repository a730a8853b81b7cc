#include "arch/x86/memory_layout.h"

namespace nestbox::x86::layout {

std::vector<GuestRamRegion> guest_ram_regions(std::uint64_t ram_size) {
  std::vector<GuestRamRegion> regions;
  const std::uint64_t below_hole = ram_size < kPciHoleStart ? ram_size : kPciHoleStart;
  regions.push_back({0, below_hole});
  if (ram_size > below_hole) {
    regions.push_back({kPciHoleEnd, ram_size - below_hole});
  }
  return regions;
}

}  // namespace nestbox::x86::layout
