#include "arch/x86/e820.h"

#include "arch/x86/memory_layout.h"
#include "common/nestbox_error.h"

namespace nestbox::x86 {

std::vector<E820Entry> build_e820_map(std::span<const GuestRamRegion> ram) {
  if (ram.empty() || ram.front().guest_address != 0 ||
      ram.front().size <= layout::kHighMemoryAddress) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "guest RAM must start at 0 and extend past 1 MiB");
  }
  std::vector<E820Entry> map;
  map.push_back({0, layout::kEbdaAddress, E820Type::Ram});
  map.push_back({layout::kEbdaAddress, layout::kHighMemoryAddress - layout::kEbdaAddress,
                 E820Type::Reserved});
  map.push_back({layout::kHighMemoryAddress, ram.front().size - layout::kHighMemoryAddress,
                 E820Type::Ram});
  for (const GuestRamRegion& region : ram.subspan(1)) {
    map.push_back({region.guest_address, region.size, E820Type::Ram});
  }
  return map;
}

}  // namespace nestbox::x86
