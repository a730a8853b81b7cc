// One request from the driver: the descriptor chain starting at an available
// ring entry, walked and validated into the guest buffers it names. Nothing in
// a chain is trusted: every index, address, length and flag is checked, and a
// chain that breaks a rule throws VirtQueueError before the device touches it.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace nestbox::virtio {

// A buffer inside one guest RAM region (GuestMemory::span() will accept it).
struct GuestBuffer {
  std::uint64_t address;
  std::uint32_t length;
};

struct DescriptorChain {
  std::uint16_t head = 0;  // what goes back in the used ring
  std::vector<GuestBuffer> readable;  // driver → device, in order
  std::vector<GuestBuffer> writable;  // device → driver, in order, all after the readable ones

  [[nodiscard]] std::uint64_t readable_bytes() const;
  [[nodiscard]] std::uint64_t writable_bytes() const;
};

struct ChainRules {
  std::uint64_t table_address;  // the queue's descriptor table
  std::uint16_t queue_size;     // entries in that table
  bool indirect_allowed;        // VIRTIO_F_INDIRECT_DESC was negotiated
};

// Walks the chain whose head is `head`. The descriptor table itself must
// already be known to lie in RAM (VirtQueue checks that when it is enabled).
// Rules enforced (virtio 1.2, 2.7.5): head and every `next` below the table
// size; at most table-size descriptors per table (so a loop ends); buffers
// within RAM without wrapping; no readable buffer after a writable one; an
// indirect descriptor only when negotiated, never with NEXT, never inside an
// indirect table, with a non-zero length that is a multiple of 16 and a table
// in RAM. Zero-length buffers are valid and dropped.
DescriptorChain walk_descriptor_chain(const GuestMemory& memory, const ChainRules& rules,
                                      std::uint16_t head);

}  // namespace nestbox::virtio
