#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>

#include "common/nestbox_error.h"
#include "memory/guest_memory.h"

using nestbox::ErrorCode;
using nestbox::GuestMemory;
using nestbox::NestboxError;

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// Two regions with a hole between them, like RAM around the PCI hole.
GuestMemory two_region_memory() {
  return GuestMemory::allocate({{0, 0x10000}, {0x100000, 0x2000}});
}

ErrorCode code_of(auto&& action) {
  try {
    action();
  } catch (const NestboxError& error) {
    return error.code();
  }
  FAIL("expected a NestboxError");
  return ErrorCode::InvalidConfig;
}

}  // namespace

TEST_CASE("guest memory reads back what was written in each region") {
  const GuestMemory memory = two_region_memory();
  CHECK(memory.total_size() == 0x12000);
  const std::array<std::uint8_t, 4> bytes{1, 2, 3, 4};
  memory.write(0xfffc, bytes);
  memory.write(0x101ffc, bytes);
  std::array<std::uint8_t, 4> back{};
  memory.read(0xfffc, back);
  CHECK(back == bytes);
  back = {};
  memory.read(0x101ffc, back);
  CHECK(back == bytes);
  memory.write_object(0x100000, std::uint64_t{0x1122334455667788});
  CHECK(memory.read_object<std::uint64_t>(0x100000) == 0x1122334455667788);
  // The regions are distinct host memory: writing one does not show in the other.
  CHECK(memory.read_object<std::uint32_t>(0) == 0);
}

TEST_CASE("guest memory rejects every access that is not entirely inside one region") {
  const GuestMemory memory = two_region_memory();
  CHECK(memory.contains(0, 0x10000));
  CHECK(memory.contains(0x10000, 0));  // empty access at the end is inside
  CHECK_FALSE(memory.contains(0xffff, 2));        // runs off the end of region 0
  CHECK_FALSE(memory.contains(0x10000, 1));       // in the hole
  CHECK_FALSE(memory.contains(0x80000, 4));       // in the hole
  CHECK_FALSE(memory.contains(0xfff0, 0x100000)); // straddles the hole into region 1
  CHECK_FALSE(memory.contains(0x101fff, 2));      // past the last region
  CHECK_FALSE(memory.contains(0x102000, 1));
  // Lengths and addresses chosen so that address + length overflows.
  CHECK_FALSE(memory.contains(0x100000, kMax));
  CHECK_FALSE(memory.contains(kMax, 2));
  CHECK_FALSE(memory.contains(kMax - 1, kMax));

  CHECK(code_of([&] { (void)memory.span(0x10000, 1); }) == ErrorCode::GuestMemory);
  CHECK(code_of([&] { (void)memory.span(0x100000, kMax); }) == ErrorCode::GuestMemory);
  CHECK(code_of([&] { (void)memory.read_object<std::uint64_t>(0x101ffc); }) ==
        ErrorCode::GuestMemory);
  const std::array<std::uint8_t, 2> two{};
  CHECK(code_of([&] { memory.write(0xffff, two); }) == ErrorCode::GuestMemory);
}

TEST_CASE("guest memory adjacent regions each serve their own accesses") {
  const GuestMemory memory = GuestMemory::allocate({{0, 0x1000}, {0x1000, 0x1000}});
  CHECK(memory.contains(0x1000, 0x1000));
  CHECK_FALSE(memory.contains(0xfff, 2));  // one access never spans two regions
  memory.write_object(0x1000, std::uint32_t{7});
  CHECK(memory.read_object<std::uint32_t>(0x1000) == 7);
}

TEST_CASE("guest memory refuses malformed region lists") {
  CHECK(code_of([] { (void)GuestMemory::allocate({}); }) == ErrorCode::GuestMemory);
  CHECK(code_of([] { (void)GuestMemory::allocate({{0, 0}}); }) == ErrorCode::GuestMemory);
  CHECK(code_of([] { (void)GuestMemory::allocate({{0x10, 0x1000}}); }) == ErrorCode::GuestMemory);
  CHECK(code_of([] { (void)GuestMemory::allocate({{0, 0x1001}}); }) == ErrorCode::GuestMemory);
  CHECK(code_of([] { (void)GuestMemory::allocate({{0x2000, 0x1000}, {0x1000, 0x1000}}); }) ==
        ErrorCode::GuestMemory);
  CHECK(code_of([] { (void)GuestMemory::allocate({{kMax & ~0xfffull, 0x2000}}); }) ==
        ErrorCode::GuestMemory);
}
