// A virtio device type (rng, block, net, input) as its transport sees it. The
// transport (virtio-pci) owns feature negotiation, queue configuration,
// status and interrupts; the device owns its config space and what a request
// on each queue means.
//
// Threading: the transport calls every method with its lock held, so a device
// needs no locking of its own for state touched only here.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "devices/virtio/queue/virt_queue.h"
#include "devices/virtio/virtio_interrupt.h"
#include "memory/guest_memory.h"

namespace nestbox::virtio {

// Runs work under the transport's lock from a thread the transport did not
// call (a disk worker, the network's I/O thread), for devices that complete
// requests asynchronously. `work` runs only while the activation that handed
// out this function is still current (no reset since, no NEEDS_RESET); it
// returns whether it ran. A VirtQueueError thrown by `work` puts the device
// into NEEDS_RESET like one from process_queue(). Safe to call after the
// transport is gone (it then returns false), so workers may outlive it briefly.
using RunLocked = std::function<bool(const std::function<void()>& work)>;

// What an activated device works with, valid until reset().
struct VirtioDeviceContext {
  const GuestMemory* memory = nullptr;
  std::span<VirtQueue> queues;
  VirtioInterrupt* interrupt = nullptr;
  std::uint64_t features = 0;  // negotiated
  RunLocked run_locked;        // queues and interrupt, from any other thread
};

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  [[nodiscard]] virtual std::uint16_t device_type() const = 0;
  // Device-specific feature bits offered (the transport adds VERSION_1,
  // EVENT_IDX and INDIRECT_DESC, which it implements itself).
  [[nodiscard]] virtual std::uint64_t device_features() const = 0;
  // One entry per queue: its maximum size (power of two ≤ 32768).
  [[nodiscard]] virtual std::vector<std::uint16_t> queue_max_sizes() const = 0;

  // Device configuration space (section 4.1.4.6); accesses are inside
  // [0, config_size()) — the transport drops the rest.
  [[nodiscard]] virtual std::uint32_t config_size() const { return 0; }
  virtual void read_config(std::uint32_t /*offset*/, std::span<std::uint8_t> data) {
    for (std::uint8_t& byte : data) byte = 0;
  }
  virtual void write_config(std::uint32_t /*offset*/, std::span<const std::uint8_t> /*data*/) {}

  // DRIVER_OK: start serving the queues.
  virtual void activate(const VirtioDeviceContext& context) = 0;
  // The driver notified `queue` (or activation found it non-empty). Throws
  // VirtQueueError for a broken queue; the transport sets NEEDS_RESET.
  virtual void process_queue(std::uint16_t queue) = 0;
  // Back to the pre-activation state; forget the context. A device with
  // requests in flight on other threads waits here until none of them touches
  // guest memory any more (their completions then find run_locked refusing).
  virtual void reset() = 0;
};

}  // namespace nestbox::virtio
