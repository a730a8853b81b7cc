// A device seen through a second bus attachment at a shifted offset. The bus
// hands each attachment offsets from its own base, so a device whose
// registers are split across non-contiguous ports (the i8042 at 0x60 and
// 0x64) is attached once per port: the second time through a window that adds
// the distance back. Attaching one range over the gap would steal the ports in
// between (0x61 belongs to the PIT/speaker).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "bus/bus_device.h"

namespace nestbox {

class BusWindow : public BusDevice {
 public:
  BusWindow(std::shared_ptr<BusDevice> target, std::uint64_t offset_in_target)
      : target_(std::move(target)), offset_in_target_(offset_in_target) {}

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    target_->read(offset_in_target_ + offset, data);
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    target_->write(offset_in_target_ + offset, data);
  }

 private:
  std::shared_ptr<BusDevice> target_;
  std::uint64_t offset_in_target_;
};

}  // namespace nestbox
