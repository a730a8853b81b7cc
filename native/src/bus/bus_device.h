// What a device looks like to a bus: reads and writes at an offset inside the
// range it was attached at. Devices never see KVM exits or guest addresses.
#pragma once

#include <cstdint>
#include <span>

namespace nestbox {

class BusDevice {
 public:
  virtual ~BusDevice() = default;

  // `data` is the access: its size is the access width (1, 2, 4 or 8 bytes for
  // port I/O and MMIO), little-endian.
  virtual void read(std::uint64_t offset, std::span<std::uint8_t> data) = 0;
  virtual void write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
};

}  // namespace nestbox
