// The split virtqueue's in-memory layout (virtio 1.2, section 2.7): what the
// driver puts in guest RAM and the device reads. All fields little-endian,
// which is also our host's order (x86-64 only).
#pragma once

#include <bit>
#include <cstdint>

namespace nestbox::virtio {

static_assert(std::endian::native == std::endian::little, "virtqueues are little-endian");

inline constexpr std::uint32_t kMaxQueueSize = 32768;

// Descriptor flags.
inline constexpr std::uint16_t kDescFlagNext = 1;
inline constexpr std::uint16_t kDescFlagWrite = 2;  // device-writable buffer
inline constexpr std::uint16_t kDescFlagIndirect = 4;

// Available ring flags (driver → device).
inline constexpr std::uint16_t kAvailFlagNoInterrupt = 1;

struct VirtqDescriptor {
  std::uint64_t address;
  std::uint32_t length;
  std::uint16_t flags;
  std::uint16_t next;
};
static_assert(sizeof(VirtqDescriptor) == 16);
inline constexpr std::uint64_t kDescriptorSize = sizeof(VirtqDescriptor);

struct VirtqUsedElement {
  std::uint32_t id;  // head index of the chain, widened to 32 bits
  std::uint32_t length;  // bytes the device wrote into the chain
};
static_assert(sizeof(VirtqUsedElement) == 8);

// Alignment the driver must respect (section 2.7, table "Virtqueue Part Alignment").
inline constexpr std::uint64_t kDescriptorTableAlignment = 16;
inline constexpr std::uint64_t kAvailRingAlignment = 2;
inline constexpr std::uint64_t kUsedRingAlignment = 4;

// avail: flags, idx, ring[size], used_event (only with VIRTIO_F_EVENT_IDX, but
// always counted so its address is always inside the validated area).
inline constexpr std::uint64_t kAvailIdxOffset = 2;
inline constexpr std::uint64_t kAvailRingOffset = 4;
constexpr std::uint64_t avail_ring_bytes(std::uint32_t size) { return 4 + 2ull * size + 2; }
constexpr std::uint64_t used_event_offset(std::uint32_t size) { return 4 + 2ull * size; }

// used: flags, idx, ring[size] of VirtqUsedElement, avail_event.
inline constexpr std::uint64_t kUsedIdxOffset = 2;
inline constexpr std::uint64_t kUsedRingOffset = 4;
constexpr std::uint64_t used_ring_bytes(std::uint32_t size) { return 4 + 8ull * size + 2; }
constexpr std::uint64_t avail_event_offset(std::uint32_t size) { return 4 + 8ull * size; }

// The event-index test (section 2.7.7.2 / 2.7.10): should the side that moved
// its index from `old_idx` to `new_idx` notify a peer that asked to hear once
// the index passes `event_idx`? All arithmetic is modulo 2^16, so it holds
// across wrap-around.
constexpr bool event_index_crossed(std::uint16_t event_idx, std::uint16_t new_idx,
                                   std::uint16_t old_idx) {
  return static_cast<std::uint16_t>(new_idx - event_idx - 1) <
         static_cast<std::uint16_t>(new_idx - old_idx);
}

}  // namespace nestbox::virtio
