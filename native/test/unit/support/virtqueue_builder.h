// The driver's side of a split virtqueue, written straight into a GuestMemory:
// descriptor tables (direct and indirect), the available ring and the event
// index, and readers for what the device put in the used ring. Tests use it
// to hand devices well-formed and deliberately malformed queues.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/virtio/queue/virtq_abi.h"
#include "memory/guest_memory.h"

namespace nestbox::test {

struct QueueLayout {
  std::uint16_t size = 0;
  std::uint64_t descriptor_table = 0;
  std::uint64_t avail_ring = 0;
  std::uint64_t used_ring = 0;

  // Descriptor table at `base`, then the available ring, then the used ring
  // (4-byte aligned): the legacy contiguous layout, fine for tests.
  static QueueLayout contiguous(std::uint64_t base, std::uint16_t size);
};

struct BufferSpec {
  std::uint64_t address;
  std::uint32_t length;
  bool device_writable;
};

class VirtqueueBuilder {
 public:
  VirtqueueBuilder(const GuestMemory& memory, QueueLayout layout);

  [[nodiscard]] const QueueLayout& layout() const { return layout_; }

  // Raw descriptor in the queue's table, or in any table at `table`.
  void set_descriptor(std::uint16_t index, std::uint64_t address, std::uint32_t length,
                      std::uint16_t flags, std::uint16_t next = 0);
  void set_descriptor_in(std::uint64_t table, std::uint32_t index, std::uint64_t address,
                         std::uint32_t length, std::uint16_t flags, std::uint16_t next = 0);

  // Writes `buffers` as a NEXT-linked chain at descriptors first, first+1, ...
  // and returns the head (`first`).
  std::uint16_t write_chain(std::uint16_t first, const std::vector<BufferSpec>& buffers);
  // Writes `buffers` as an indirect table at `table`, and descriptor `index`
  // of the queue pointing at it. Returns `index`.
  std::uint16_t write_indirect_chain(std::uint16_t index, std::uint64_t table,
                                     const std::vector<BufferSpec>& buffers);

  // Puts `head` in the next available slot and publishes it (idx + 1).
  void make_available(std::uint16_t head);
  void set_avail_idx(std::uint16_t idx);
  [[nodiscard]] std::uint16_t avail_idx() const;
  void set_avail_flags(std::uint16_t flags);
  void set_used_event(std::uint16_t value);

  [[nodiscard]] std::uint16_t used_idx() const;
  [[nodiscard]] virtio::VirtqUsedElement used_element(std::uint16_t position) const;
  [[nodiscard]] std::uint16_t avail_event() const;

 private:
  const GuestMemory& memory_;
  QueueLayout layout_;
};

}  // namespace nestbox::test
