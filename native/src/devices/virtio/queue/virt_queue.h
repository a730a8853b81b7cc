// The device side of one split virtqueue (virtio 1.2, section 2.7): the
// driver's ring addresses and size, our positions in the available and used
// rings, and the notification rules (event index or NO_INTERRUPT).
//
// Every guest value is validated. A queue is enabled only if its size is a
// power of two within [1, max_size] and all three areas are aligned and inside
// guest RAM; the available index may run ahead of us by at most the queue
// size; chains are walked by walk_descriptor_chain(). Violations throw
// VirtQueueError (the transport sets DEVICE_NEEDS_RESET).
//
// Not thread-safe: the transport serializes all use of a queue.
#pragma once

#include <cstdint>
#include <optional>

#include "devices/virtio/queue/descriptor_chain.h"
#include "memory/guest_memory.h"

namespace nestbox::virtio {

// Everything needed to resume a queue after a snapshot (no host resources).
struct VirtQueueState {
  std::uint16_t size = 0;
  bool ready = false;
  std::uint64_t descriptor_table = 0;
  std::uint64_t avail_ring = 0;  // "driver area"
  std::uint64_t used_ring = 0;   // "device area"
  std::uint16_t next_avail = 0;  // next available-ring entry we will take
  std::uint16_t next_used = 0;   // our used index (published to the guest)
  std::uint16_t signalled_used = 0;  // used index when we last decided about an interrupt
  bool signalled_used_valid = false;
  bool event_index = false;      // VIRTIO_F_EVENT_IDX negotiated
  bool indirect = false;         // VIRTIO_F_INDIRECT_DESC negotiated
};

class VirtQueue {
 public:
  // `max_size`: the largest size the device offers (power of two ≤ 32768).
  explicit VirtQueue(std::uint16_t max_size);

  [[nodiscard]] std::uint16_t max_size() const { return max_size_; }

  // Driver-written configuration; only meaningful while the queue is not ready.
  void set_size(std::uint16_t size) { state_.size = size; }
  void set_descriptor_table(std::uint64_t address) { state_.descriptor_table = address; }
  void set_avail_ring(std::uint64_t address) { state_.avail_ring = address; }
  void set_used_ring(std::uint64_t address) { state_.used_ring = address; }
  [[nodiscard]] std::uint16_t size() const { return state_.size; }
  [[nodiscard]] std::uint64_t descriptor_table() const { return state_.descriptor_table; }
  [[nodiscard]] std::uint64_t avail_ring() const { return state_.avail_ring; }
  [[nodiscard]] std::uint64_t used_ring() const { return state_.used_ring; }
  [[nodiscard]] bool ready() const { return state_.ready; }

  // Negotiated ring features (set when the driver sets DRIVER_OK).
  void set_ring_features(bool event_index, bool indirect);

  // Checks the configuration against guest RAM and marks the queue ready.
  void enable(const GuestMemory& memory);
  // Back to the power-on state: not ready, default size, positions zero.
  void reset();

  // The next chain the driver made available, or nullopt when there is none.
  std::optional<DescriptorChain> pop(const GuestMemory& memory);
  // Returns a chain to the driver with the number of bytes written into it.
  void add_used(const GuestMemory& memory, std::uint16_t head, std::uint32_t written);
  // After add_used(): does the driver want an interrupt for what we returned
  // since the last call? (Event index or NO_INTERRUPT, wrap-around safe.)
  bool needs_notification(const GuestMemory& memory);

  [[nodiscard]] VirtQueueState save() const { return state_; }
  // Restores positions and configuration; a ready queue is re-validated
  // (throws VirtQueueError if the snapshot does not fit this memory).
  void restore(const VirtQueueState& state, const GuestMemory& memory);

 private:
  void check_configuration(const GuestMemory& memory) const;
  std::uint16_t load_u16(const GuestMemory& memory, std::uint64_t address) const;
  void store_u16(const GuestMemory& memory, std::uint64_t address, std::uint16_t value) const;

  std::uint16_t max_size_;
  VirtQueueState state_;
};

}  // namespace nestbox::virtio
