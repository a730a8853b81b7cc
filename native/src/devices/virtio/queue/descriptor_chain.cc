#include "devices/virtio/queue/descriptor_chain.h"

#include <cstring>
#include <string>

#include "devices/virtio/queue/virt_queue_error.h"
#include "devices/virtio/queue/virtq_abi.h"

namespace nestbox::virtio {

namespace {

[[noreturn]] void reject(std::uint16_t head, const std::string& why) {
  throw VirtQueueError("descriptor chain at head " + std::to_string(head) + ": " + why);
}

VirtqDescriptor read_descriptor(const GuestMemory& memory, std::uint64_t table,
                                std::uint32_t index) {
  // The caller checked that the whole table is in RAM; span() re-checks.
  VirtqDescriptor descriptor;
  std::memcpy(&descriptor, memory.span(table + kDescriptorSize * index, kDescriptorSize).data(),
              sizeof descriptor);
  return descriptor;
}

}  // namespace

std::uint64_t DescriptorChain::readable_bytes() const {
  std::uint64_t total = 0;
  for (const GuestBuffer& buffer : readable) total += buffer.length;
  return total;
}

std::uint64_t DescriptorChain::writable_bytes() const {
  std::uint64_t total = 0;
  for (const GuestBuffer& buffer : writable) total += buffer.length;
  return total;
}

DescriptorChain walk_descriptor_chain(const GuestMemory& memory, const ChainRules& rules,
                                      std::uint16_t head) {
  DescriptorChain chain;
  chain.head = head;
  if (rules.queue_size == 0 || head >= rules.queue_size) {
    reject(head, "head index is not below the queue size " + std::to_string(rules.queue_size));
  }
  std::uint64_t table = rules.table_address;
  std::uint32_t table_entries = rules.queue_size;
  std::uint32_t index = head;
  std::uint32_t visited = 0;  // in the current table: more than its size means a loop
  bool in_indirect_table = false;

  for (;;) {
    if (index >= table_entries) {
      reject(head, "next index " + std::to_string(index) + " is outside its table of " +
                       std::to_string(table_entries));
    }
    if (++visited > table_entries) {
      reject(head, "the chain is longer than its table (a loop)");
    }
    const VirtqDescriptor descriptor = read_descriptor(memory, table, index);

    if ((descriptor.flags & kDescFlagIndirect) != 0) {
      if (in_indirect_table) reject(head, "an indirect table names another indirect table");
      if (!rules.indirect_allowed) reject(head, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
      if ((descriptor.flags & kDescFlagNext) != 0) reject(head, "indirect descriptor with NEXT set");
      if (descriptor.length == 0 || descriptor.length % kDescriptorSize != 0) {
        reject(head, "indirect table length " + std::to_string(descriptor.length) +
                         " is not a non-zero multiple of 16");
      }
      if (descriptor.length / kDescriptorSize > kMaxQueueSize) {
        reject(head, "indirect table has more than 32768 entries");
      }
      if (descriptor.address % alignof(std::uint64_t) != 0 ||
          !memory.contains(descriptor.address, descriptor.length)) {
        reject(head, "indirect table is outside guest RAM or misaligned");
      }
      table = descriptor.address;
      table_entries = static_cast<std::uint32_t>(descriptor.length / kDescriptorSize);
      index = 0;
      visited = 0;
      in_indirect_table = true;
      continue;
    }

    if (descriptor.length != 0) {
      if (!memory.contains(descriptor.address, descriptor.length)) {
        reject(head, "buffer of " + std::to_string(descriptor.length) +
                         " bytes is outside guest RAM");
      }
      const GuestBuffer buffer{descriptor.address, descriptor.length};
      if ((descriptor.flags & kDescFlagWrite) != 0) {
        chain.writable.push_back(buffer);
      } else {
        if (!chain.writable.empty()) reject(head, "a readable buffer follows a writable one");
        chain.readable.push_back(buffer);
      }
    }
    if ((descriptor.flags & kDescFlagNext) == 0) {
      return chain;
    }
    index = descriptor.next;
  }
}

}  // namespace nestbox::virtio
