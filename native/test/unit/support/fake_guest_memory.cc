#include "support/fake_guest_memory.h"

namespace nestbox::test {

GuestMemory make_guest_memory(std::uint64_t size) {
  return GuestMemory::allocate({GuestRamRegion{0, size}});
}

GuestMemory make_guest_memory(std::vector<GuestRamRegion> regions) {
  return GuestMemory::allocate(std::move(regions));
}

}  // namespace nestbox::test
