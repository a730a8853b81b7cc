// Port 0x80, where firmware and kernels write POST/progress codes, and which
// Linux also writes as an I/O delay (outb_p). A sink: it keeps the last code
// for diagnostics and costs nothing beyond the exit itself.
//
// Integration: port I/O 0x80, 1 port; no IRQ, no callbacks:
//   port_bus.attach(0x80, 1, std::make_shared<PostCodePort>());
// Reads return all ones, like an LPC bus where no POST card drives the data
// lines: chipsets that latch the last code differ, no guest we boot reads it
// back, and all ones matches what the port read before this device existed.
// (Linux guests can skip the delay writes entirely with `io_delay=none`.)
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "bus/bus_device.h"

namespace nestbox {

struct PostCodePortState {
  std::uint32_t last_value = 0;  // the last write, little-endian, up to 4 bytes
};

struct PostCodeStats {
  std::uint32_t last_value = 0;
  std::uint64_t writes = 0;
};

class PostCodePort : public BusDevice {
 public:
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  [[nodiscard]] PostCodeStats stats() const;
  [[nodiscard]] PostCodePortState save() const;
  void restore(const PostCodePortState& state);

 private:
  // Atomics, not a mutex: every vCPU may write here at boot, none should wait.
  std::atomic<std::uint32_t> last_value_{0};
  std::atomic<std::uint64_t> writes_{0};
};

}  // namespace nestbox
