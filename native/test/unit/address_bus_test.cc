#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <vector>

#include "bus/address_bus.h"
#include "common/nestbox_error.h"

using nestbox::AddressBus;
using nestbox::BusDevice;
using nestbox::NestboxError;

namespace {

// Records accesses and answers reads with its offset, to check routing.
class RecordingDevice : public BusDevice {
 public:
  struct Access {
    bool write;
    std::uint64_t offset;
    std::size_t size;
  };
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    accesses.push_back({false, offset, data.size()});
    for (auto& byte : data) byte = static_cast<std::uint8_t>(offset);
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    accesses.push_back({true, offset, data.size()});
  }
  std::vector<Access> accesses;
};

}  // namespace

TEST_CASE("bus routes accesses to the device at their address, with the offset into it") {
  AddressBus bus("port I/O");
  auto device = std::make_shared<RecordingDevice>();
  bus.attach(0x3f8, 8, device);

  std::array<std::uint8_t, 1> byte{};
  CHECK(bus.read(0x3fd, byte));
  CHECK(byte[0] == 5);
  const std::array<std::uint8_t, 2> word{0x12, 0x34};
  CHECK(bus.write(0x3f8, word));
  REQUIRE(device->accesses.size() == 2);
  CHECK(device->accesses[1].write);
  CHECK(device->accesses[1].offset == 0);
  CHECK(device->accesses[1].size == 2);
  CHECK(bus.stats().unknown_reads == 0);
  CHECK(bus.stats().unknown_writes == 0);
}

TEST_CASE("bus reads of unclaimed addresses return all ones and are counted") {
  AddressBus bus("port I/O");
  bus.attach(0x3f8, 8, std::make_shared<RecordingDevice>());

  std::array<std::uint8_t, 4> dword{};
  CHECK_FALSE(bus.read(0x510, dword));
  CHECK(dword == std::array<std::uint8_t, 4>{0xff, 0xff, 0xff, 0xff});
  std::array<std::uint8_t, 1> byte{};
  CHECK_FALSE(bus.read(0x3f7, byte));  // just below the device
  CHECK_FALSE(bus.read(0x400, byte));  // just above it
  // An access that starts inside the device but runs past its end is not its.
  std::array<std::uint8_t, 2> word{};
  CHECK_FALSE(bus.read(0x3ff, word));
  const std::array<std::uint8_t, 1> value{0};
  CHECK_FALSE(bus.write(0x80, value));
  CHECK(bus.stats().unknown_reads == 4);
  CHECK(bus.stats().unknown_writes == 1);
}

TEST_CASE("bus refuses overlapping and empty device ranges") {
  AddressBus bus("MMIO");
  bus.attach(0x1000, 0x100, std::make_shared<RecordingDevice>());
  CHECK_THROWS_AS(bus.attach(0x10ff, 1, std::make_shared<RecordingDevice>()), NestboxError);
  CHECK_THROWS_AS(bus.attach(0xf00, 0x101, std::make_shared<RecordingDevice>()), NestboxError);
  CHECK_THROWS_AS(bus.attach(0x1050, 0x10, std::make_shared<RecordingDevice>()), NestboxError);
  CHECK_THROWS_AS(bus.attach(0x2000, 0, std::make_shared<RecordingDevice>()), NestboxError);
  CHECK_THROWS_AS(bus.attach(~0ull, 2, std::make_shared<RecordingDevice>()), NestboxError);
  // Touching ranges are fine.
  bus.attach(0x1100, 0x100, std::make_shared<RecordingDevice>());
  bus.attach(0xf00, 0x100, std::make_shared<RecordingDevice>());
  std::array<std::uint8_t, 1> byte{};
  CHECK(bus.read(0x10ff, byte));
  CHECK(byte[0] == 0xff);  // offset 0xff inside the first device
}
