#include "support/virtqueue_builder.h"

#include <atomic>

namespace nestbox::test {

using namespace nestbox::virtio;

QueueLayout QueueLayout::contiguous(std::uint64_t base, std::uint16_t size) {
  QueueLayout layout;
  layout.size = size;
  layout.descriptor_table = base;
  layout.avail_ring = base + kDescriptorSize * size;
  layout.used_ring = (layout.avail_ring + avail_ring_bytes(size) + 3) & ~std::uint64_t{3};
  return layout;
}

VirtqueueBuilder::VirtqueueBuilder(const GuestMemory& memory, QueueLayout layout)
    : memory_(memory), layout_(layout) {}

void VirtqueueBuilder::set_descriptor_in(std::uint64_t table, std::uint32_t index,
                                         std::uint64_t address, std::uint32_t length,
                                         std::uint16_t flags, std::uint16_t next) {
  memory_.write_object(table + kDescriptorSize * index, VirtqDescriptor{address, length, flags, next});
}

void VirtqueueBuilder::set_descriptor(std::uint16_t index, std::uint64_t address,
                                      std::uint32_t length, std::uint16_t flags,
                                      std::uint16_t next) {
  set_descriptor_in(layout_.descriptor_table, index, address, length, flags, next);
}

std::uint16_t VirtqueueBuilder::write_chain(std::uint16_t first,
                                            const std::vector<BufferSpec>& buffers) {
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const bool last = i + 1 == buffers.size();
    const auto index = static_cast<std::uint16_t>(first + i);
    set_descriptor(index, buffers[i].address, buffers[i].length,
                   static_cast<std::uint16_t>((buffers[i].device_writable ? kDescFlagWrite : 0) |
                                              (last ? 0 : kDescFlagNext)),
                   static_cast<std::uint16_t>(last ? 0 : index + 1));
  }
  return first;
}

std::uint16_t VirtqueueBuilder::write_indirect_chain(std::uint16_t index, std::uint64_t table,
                                                     const std::vector<BufferSpec>& buffers) {
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    const bool last = i + 1 == buffers.size();
    set_descriptor_in(table, static_cast<std::uint32_t>(i), buffers[i].address, buffers[i].length,
                      static_cast<std::uint16_t>((buffers[i].device_writable ? kDescFlagWrite : 0) |
                                                 (last ? 0 : kDescFlagNext)),
                      static_cast<std::uint16_t>(last ? 0 : i + 1));
  }
  set_descriptor(index, table, static_cast<std::uint32_t>(kDescriptorSize * buffers.size()),
                 kDescFlagIndirect);
  return index;
}

void VirtqueueBuilder::make_available(std::uint16_t head) {
  const std::uint16_t idx = avail_idx();
  memory_.write_object<std::uint16_t>(
      layout_.avail_ring + kAvailRingOffset + 2ull * (idx % layout_.size), head);
  std::atomic_thread_fence(std::memory_order_release);
  set_avail_idx(static_cast<std::uint16_t>(idx + 1));
}

void VirtqueueBuilder::set_avail_idx(std::uint16_t idx) {
  memory_.write_object<std::uint16_t>(layout_.avail_ring + kAvailIdxOffset, idx);
}
std::uint16_t VirtqueueBuilder::avail_idx() const {
  return memory_.read_object<std::uint16_t>(layout_.avail_ring + kAvailIdxOffset);
}
void VirtqueueBuilder::set_avail_flags(std::uint16_t flags) {
  memory_.write_object<std::uint16_t>(layout_.avail_ring, flags);
}
void VirtqueueBuilder::set_used_event(std::uint16_t value) {
  memory_.write_object<std::uint16_t>(layout_.avail_ring + used_event_offset(layout_.size), value);
}
std::uint16_t VirtqueueBuilder::used_idx() const {
  return memory_.read_object<std::uint16_t>(layout_.used_ring + kUsedIdxOffset);
}
VirtqUsedElement VirtqueueBuilder::used_element(std::uint16_t position) const {
  return memory_.read_object<VirtqUsedElement>(layout_.used_ring + kUsedRingOffset +
                                               sizeof(VirtqUsedElement) * (position % layout_.size));
}
std::uint16_t VirtqueueBuilder::avail_event() const {
  return memory_.read_object<std::uint16_t>(layout_.used_ring + avail_event_offset(layout_.size));
}

}  // namespace nestbox::test
