// How a virtio device raises interrupts without knowing its transport: the
// transport maps these to MSI-X vectors or to the ISR and INTx.
#pragma once

#include <cstdint>

namespace nestbox::virtio {

class VirtioInterrupt {
 public:
  virtual ~VirtioInterrupt() = default;
  // Used buffers were returned on `queue` and the driver wants to hear it
  // (VirtQueue::needs_notification() said so).
  virtual void signal_used_queue(std::uint16_t queue) = 0;
  // The device configuration changed: the transport bumps config_generation.
  virtual void signal_config_change() = 0;
};

}  // namespace nestbox::virtio
