// One virtio-blk request: the chain the driver posted, split into what the
// device reads and writes, and its execution against a disk image.
//
// Layout (5.2.6): device-readable bytes start with the 16-byte header, then
// OUT data or DISCARD/WRITE_ZEROES segments; device-writable bytes are IN
// data or the ID, then the status byte, which is the very last writable byte.
// The driver may split or merge these across descriptors any way it likes
// (virtio 1.x has no fixed layout), so both sides are treated as byte streams.
//
// Validation (nothing the guest wrote is trusted), decided in this order:
//   - no writable byte at all: there is nowhere to report a status, so the
//     chain is a driver bug: make_request() throws VirtQueueError and the
//     transport sets DEVICE_NEEDS_RESET;
//   - more than kMaxChainBuffers buffers, or fewer than 16 readable bytes for
//     the header: IOERR (a status byte exists, so the driver hears about it);
//   - an unknown type, or an unknown/forbidden segment flag: UNSUPP;
//   - OUT, DISCARD or WRITE_ZEROES on a read-only disk: IOERR, nothing written;
//   - IN/OUT data not a multiple of 512 bytes or above kMaxRequestBytes, a
//     sector range past the capacity (overflow-safe), a malformed segment
//     list or a segment above the advertised maximum: IOERR;
//   - a DiskImageError from the image: IOERR, and the message for the log.
// Nothing here throws past make_request().
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "devices/virtio/blk/virtio_blk_abi.h"
#include "devices/virtio/queue/descriptor_chain.h"
#include "memory/guest_memory.h"

namespace nestbox::virtio::blk {

// What the configuration space promises the driver, and what we enforce.
// Linux never builds a request larger than seg_max × size_max, so the byte
// cap costs a well-behaved driver nothing while bounding the time one request
// can occupy a worker.
inline constexpr std::uint32_t kSegMax = 128;
inline constexpr std::uint32_t kSizeMax = 32 * 1024;
inline constexpr std::uint32_t kMaxRequestBytes = kSegMax * kSizeMax;  // 4 MiB of IN/OUT data
// Header and status may each be split over a couple of descriptors; more
// than this is refused so a queued request never holds a huge buffer list.
inline constexpr std::uint32_t kMaxChainBuffers = kSegMax + 4;
// Per segment, in 512-byte sectors: 256 MiB. Zeroing or discarding that much
// is quick on a raw file (a hole punch) and bounded on qcow2.
inline constexpr std::uint32_t kMaxDiscardSectors = 256 * 1024 * 1024 / kSectorSize;
inline constexpr std::uint32_t kMaxWriteZeroesSectors = kMaxDiscardSectors;
inline constexpr std::uint32_t kMaxDiscardSegments = 16;
inline constexpr std::uint32_t kMaxWriteZeroesSegments = kMaxDiscardSegments;
// A hint for the driver's discard granularity: 4 KiB, the host page and the
// usual file-system block, so punched holes line up.
inline constexpr std::uint32_t kDiscardSectorAlignment = 8;

struct BlkRequest {
  std::uint16_t head = 0;
  std::vector<GuestBuffer> readable;  // header first
  std::vector<GuestBuffer> writable;  // without the status byte
  std::uint64_t status_address = 0;
  bool too_many_buffers = false;  // refused with IOERR; the lists were dropped
};

// Throws VirtQueueError when the chain has no device-writable byte.
BlkRequest make_request(DescriptorChain chain);

// The disk a request runs against.
struct BlkDisk {
  block::DiskImage& image;
  std::uint64_t capacity_sectors;  // whole 512-byte sectors of the image
  bool read_only;                  // the config's flag or the image's
  const std::array<std::uint8_t, kIdBytes>& id;
};

struct BlkOutcome {
  std::uint8_t status = kStatusIoErr;
  std::uint32_t data_written = 0;  // into the writable data (IN, GET_ID), status byte excluded
  std::uint32_t type = 0;          // as the header said (meaningless without a header)
  std::uint64_t disk_bytes = 0;    // moved to or from the image (IN, OUT)
  std::string error;               // why it was not OK, for the log; empty when OK
};

// Does the request's I/O (reading and writing guest memory and the image);
// does not write the status byte. Never throws.
BlkOutcome execute_request(const BlkRequest& request, const GuestMemory& memory, const BlkDisk& disk);

}  // namespace nestbox::virtio::blk
