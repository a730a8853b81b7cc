#include "devices/virtio/queue/virt_queue.h"

#include <atomic>
#include <bit>
#include <cstring>
#include <string>

#include "devices/virtio/queue/virt_queue_error.h"
#include "devices/virtio/queue/virtq_abi.h"

namespace nestbox::virtio {

VirtQueue::VirtQueue(std::uint16_t max_size) : max_size_(max_size) {
  if (max_size == 0 || !std::has_single_bit(max_size)) {
    throw VirtQueueError("queue maximum size " + std::to_string(max_size) +
                         " is not a power of two");
  }
  reset();
}

void VirtQueue::set_ring_features(bool event_index, bool indirect) {
  state_.event_index = event_index;
  state_.indirect = indirect;
}

void VirtQueue::reset() {
  state_ = VirtQueueState{};
  state_.size = max_size_;
}

void VirtQueue::check_configuration(const GuestMemory& memory) const {
  const std::uint16_t size = state_.size;
  if (size == 0 || size > max_size_ || !std::has_single_bit(size)) {
    throw VirtQueueError("queue size " + std::to_string(size) +
                         " is not a power of two up to " + std::to_string(max_size_));
  }
  const auto check_area = [&](const char* what, std::uint64_t address, std::uint64_t length,
                              std::uint64_t alignment) {
    if (address % alignment != 0) {
      throw VirtQueueError(std::string(what) + " is not " + std::to_string(alignment) +
                           "-byte aligned");
    }
    if (!memory.contains(address, length)) {
      throw VirtQueueError(std::string(what) + " is outside guest RAM");
    }
  };
  check_area("descriptor table", state_.descriptor_table, kDescriptorSize * size,
             kDescriptorTableAlignment);
  check_area("available ring", state_.avail_ring, avail_ring_bytes(size), kAvailRingAlignment);
  check_area("used ring", state_.used_ring, used_ring_bytes(size), kUsedRingAlignment);
}

void VirtQueue::enable(const GuestMemory& memory) {
  check_configuration(memory);
  state_.ready = true;
}

void VirtQueue::restore(const VirtQueueState& state, const GuestMemory& memory) {
  state_ = state;
  if (state_.ready) {
    check_configuration(memory);
  }
}

// Ring indices are shared with a driver running on another CPU: access them as
// single aligned 16-bit atomics (alignment was checked in check_configuration).
std::uint16_t VirtQueue::load_u16(const GuestMemory& memory, std::uint64_t address) const {
  auto* field = reinterpret_cast<std::uint16_t*>(memory.span(address, 2).data());
  return std::atomic_ref<std::uint16_t>(*field).load(std::memory_order_relaxed);
}

void VirtQueue::store_u16(const GuestMemory& memory, std::uint64_t address,
                          std::uint16_t value) const {
  auto* field = reinterpret_cast<std::uint16_t*>(memory.span(address, 2).data());
  std::atomic_ref<std::uint16_t>(*field).store(value, std::memory_order_relaxed);
}

std::optional<DescriptorChain> VirtQueue::pop(const GuestMemory& memory) {
  if (!state_.ready) {
    return std::nullopt;
  }
  const std::uint64_t avail_idx_address = state_.avail_ring + kAvailIdxOffset;
  std::uint16_t avail_idx = load_u16(memory, avail_idx_address);
  if (avail_idx == state_.next_avail && state_.event_index) {
    // About to go idle: ask to be notified at the next entry, then look once
    // more, since the driver may have added one before it saw our request.
    store_u16(memory, state_.used_ring + avail_event_offset(state_.size), state_.next_avail);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    avail_idx = load_u16(memory, avail_idx_address);
  }
  const auto pending = static_cast<std::uint16_t>(avail_idx - state_.next_avail);
  if (pending == 0) {
    return std::nullopt;
  }
  if (pending > state_.size) {
    throw VirtQueueError("available index " + std::to_string(avail_idx) + " is " +
                         std::to_string(pending) + " entries ahead of the device, more than " +
                         "the queue size " + std::to_string(state_.size));
  }
  // Read the ring entry (and, through it, the descriptors) only after the
  // index that published it.
  std::atomic_thread_fence(std::memory_order_acquire);
  const std::uint16_t slot = state_.next_avail & (state_.size - 1);
  const std::uint16_t head = load_u16(memory, state_.avail_ring + kAvailRingOffset + 2ull * slot);
  DescriptorChain chain = walk_descriptor_chain(
      memory, ChainRules{state_.descriptor_table, state_.size, state_.indirect}, head);
  ++state_.next_avail;
  return chain;
}

void VirtQueue::add_used(const GuestMemory& memory, std::uint16_t head, std::uint32_t written) {
  if (!state_.ready) {
    throw VirtQueueError("used buffer returned on a queue that is not enabled");
  }
  const std::uint16_t slot = state_.next_used & (state_.size - 1);
  const VirtqUsedElement element{head, written};
  memory.write_object(state_.used_ring + kUsedRingOffset + sizeof(VirtqUsedElement) * slot,
                      element);
  ++state_.next_used;
  // The element must be visible before the index that hands it to the driver.
  std::atomic_thread_fence(std::memory_order_release);
  store_u16(memory, state_.used_ring + kUsedIdxOffset, state_.next_used);
}

bool VirtQueue::needs_notification(const GuestMemory& memory) {
  if (!state_.ready) {
    return false;
  }
  // Our used-index store must be visible before we read the driver's
  // suppression state, or both sides could decide "the other will act".
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!state_.event_index) {
    return (load_u16(memory, state_.avail_ring) & kAvailFlagNoInterrupt) == 0;
  }
  const std::uint16_t used_event = load_u16(memory, state_.avail_ring + used_event_offset(state_.size));
  const std::uint16_t old_used = state_.signalled_used;
  const bool was_valid = state_.signalled_used_valid;
  state_.signalled_used = state_.next_used;
  state_.signalled_used_valid = true;
  if (!was_valid) {
    return true;  // first decision since enable/restore: never risk a lost interrupt
  }
  return event_index_crossed(used_event, state_.next_used, old_used);
}

}  // namespace nestbox::virtio
