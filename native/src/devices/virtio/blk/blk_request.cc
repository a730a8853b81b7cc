#include "devices/virtio/blk/blk_request.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <span>
#include <string>

#include "block/disk_image_error.h"
#include "devices/virtio/queue/virt_queue_error.h"

namespace nestbox::virtio::blk {

namespace {

std::uint64_t total_bytes(const std::vector<GuestBuffer>& buffers) {
  std::uint64_t total = 0;
  for (const GuestBuffer& buffer : buffers) total += buffer.length;
  return total;
}

// Calls piece(span) for the host bytes behind [offset, offset + length) of the
// byte stream the buffers form, in order. The walker already checked each
// buffer lies in one RAM region, so span() cannot refuse.
template <typename Piece>
void for_each_piece(const GuestMemory& memory, const std::vector<GuestBuffer>& buffers,
                    std::uint64_t offset, std::uint64_t length, Piece&& piece) {
  for (const GuestBuffer& buffer : buffers) {
    if (length == 0) return;
    if (offset >= buffer.length) {
      offset -= buffer.length;
      continue;
    }
    const std::uint64_t take = std::min<std::uint64_t>(buffer.length - offset, length);
    piece(memory.span(buffer.address + offset, take));
    offset = 0;
    length -= take;
  }
}

void copy_from_guest(const GuestMemory& memory, const std::vector<GuestBuffer>& buffers,
                     std::uint64_t offset, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  for_each_piece(memory, buffers, offset, out.size(), [&](std::span<std::uint8_t> piece) {
    std::memcpy(out.data() + done, piece.data(), piece.size());
    done += piece.size();
  });
}

void copy_to_guest(const GuestMemory& memory, const std::vector<GuestBuffer>& buffers,
                   std::span<const std::uint8_t> bytes) {
  std::size_t done = 0;
  for_each_piece(memory, buffers, 0, bytes.size(), [&](std::span<std::uint8_t> piece) {
    std::memcpy(piece.data(), bytes.data() + done, piece.size());
    done += piece.size();
  });
}

// Overflow-safe: sector + count never computed.
bool range_fits(std::uint64_t sector, std::uint64_t count, std::uint64_t capacity) {
  return sector <= capacity && count <= capacity - sector;
}

std::string range_error(const char* what, std::uint64_t sector, std::uint64_t count,
                        std::uint64_t capacity) {
  return std::string(what) + " of " + std::to_string(count) + " sectors at sector " +
         std::to_string(sector) + " goes past the end of the disk (" + std::to_string(capacity) +
         " sectors)";
}

void fail(BlkOutcome& outcome, std::uint8_t status, std::string why) {
  outcome.status = status;
  outcome.error = std::move(why);
}

// IN/OUT data: a whole number of sectors, within the per-request cap and the disk.
bool check_data(BlkOutcome& outcome, const char* what, std::uint64_t sector, std::uint64_t bytes,
                const BlkDisk& disk) {
  if (bytes % kSectorSize != 0) {
    fail(outcome, kStatusIoErr,
         std::string(what) + " of " + std::to_string(bytes) + " bytes is not a whole number of sectors");
    return false;
  }
  if (bytes > kMaxRequestBytes) {
    fail(outcome, kStatusIoErr,
         std::string(what) + " of " + std::to_string(bytes) + " bytes is above the " +
             std::to_string(kMaxRequestBytes) + "-byte limit");
    return false;
  }
  if (!range_fits(sector, bytes / kSectorSize, disk.capacity_sectors)) {
    fail(outcome, kStatusIoErr, range_error(what, sector, bytes / kSectorSize, disk.capacity_sectors));
    return false;
  }
  return true;
}

void read_sectors(BlkOutcome& outcome, const BlkRequest& request, const GuestMemory& memory,
                  const BlkDisk& disk, std::uint64_t sector) {
  const std::uint64_t bytes = total_bytes(request.writable);
  if (!check_data(outcome, "read", sector, bytes, disk)) return;
  std::uint64_t offset = sector * kSectorSize;
  for (const GuestBuffer& buffer : request.writable) {
    disk.image.read(offset, memory.span(buffer.address, buffer.length));
    offset += buffer.length;
  }
  outcome.data_written = static_cast<std::uint32_t>(bytes);
  outcome.disk_bytes = bytes;
  outcome.status = kStatusOk;
}

void write_sectors(BlkOutcome& outcome, const BlkRequest& request, const GuestMemory& memory,
                   const BlkDisk& disk, std::uint64_t sector, std::uint64_t payload) {
  if (!check_data(outcome, "write", sector, payload, disk)) return;
  std::uint64_t offset = sector * kSectorSize;
  for_each_piece(memory, request.readable, sizeof(RequestHeader), payload,
                 [&](std::span<std::uint8_t> piece) {
                   disk.image.write(offset, piece);
                   offset += piece.size();
                 });
  outcome.disk_bytes = payload;
  outcome.status = kStatusOk;
}

void get_id(BlkOutcome& outcome, const BlkRequest& request, const GuestMemory& memory,
            const BlkDisk& disk) {
  // As many ID bytes as fit (the driver normally offers exactly 20).
  const auto count = static_cast<std::size_t>(
      std::min<std::uint64_t>(total_bytes(request.writable), kIdBytes));
  copy_to_guest(memory, request.writable, std::span<const std::uint8_t>(disk.id.data(), count));
  outcome.data_written = static_cast<std::uint32_t>(count);
  outcome.status = kStatusOk;
}

void discard_or_zero(BlkOutcome& outcome, const BlkRequest& request, const GuestMemory& memory,
                     const BlkDisk& disk, bool discard, std::uint64_t payload) {
  const char* what = discard ? "discard" : "write-zeroes";
  const std::uint32_t max_segments = discard ? kMaxDiscardSegments : kMaxWriteZeroesSegments;
  const std::uint32_t max_sectors = discard ? kMaxDiscardSectors : kMaxWriteZeroesSectors;
  if (payload == 0 || payload % sizeof(DiscardWriteZeroesSegment) != 0 ||
      payload / sizeof(DiscardWriteZeroesSegment) > max_segments) {
    fail(outcome, kStatusIoErr,
         std::string(what) + " payload of " + std::to_string(payload) + " bytes is not 1 to " +
             std::to_string(max_segments) + " 16-byte segments");
    return;
  }
  // Bounded by max_segments: a fixed array, no allocation sized by the guest.
  std::array<DiscardWriteZeroesSegment, std::max(kMaxDiscardSegments, kMaxWriteZeroesSegments)> segments{};
  const auto count = static_cast<std::size_t>(payload / sizeof(DiscardWriteZeroesSegment));
  copy_from_guest(memory, request.readable, sizeof(RequestHeader),
                  std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(segments.data()),
                                          count * sizeof(DiscardWriteZeroesSegment)));
  // Validate every segment before touching the disk, so a bad one does not
  // leave the request half done.
  for (std::size_t i = 0; i < count; ++i) {
    const DiscardWriteZeroesSegment& segment = segments[i];
    if ((segment.flags & ~kSegmentFlagUnmap) != 0 || (discard && (segment.flags & kSegmentFlagUnmap) != 0)) {
      // 5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP.
      fail(outcome, kStatusUnsupported,
           std::string(what) + " segment with unsupported flags " + std::to_string(segment.flags));
      return;
    }
    if (segment.num_sectors > max_sectors) {
      fail(outcome, kStatusIoErr,
           std::string(what) + " segment of " + std::to_string(segment.num_sectors) +
               " sectors is above the advertised maximum " + std::to_string(max_sectors));
      return;
    }
    if (!range_fits(segment.sector, segment.num_sectors, disk.capacity_sectors)) {
      fail(outcome, kStatusIoErr,
           range_error(what, segment.sector, segment.num_sectors, disk.capacity_sectors));
      return;
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t offset = segments[i].sector * kSectorSize;
    const std::uint64_t length = std::uint64_t{segments[i].num_sectors} * kSectorSize;
    if (length == 0) continue;
    // WRITE_ZEROES may always unmap: write_zeroes_may_unmap is set and the
    // image's write_zeroes already punches holes where it can.
    if (discard) {
      disk.image.discard(offset, length);
    } else {
      disk.image.write_zeroes(offset, length);
    }
  }
  outcome.status = kStatusOk;
}

}  // namespace

BlkRequest make_request(DescriptorChain chain) {
  if (chain.writable.empty()) {
    throw VirtQueueError("virtio-blk request at head " + std::to_string(chain.head) +
                         " has no device-writable status byte");
  }
  BlkRequest request;
  request.head = chain.head;
  const GuestBuffer last = chain.writable.back();  // zero-length buffers were dropped: length ≥ 1
  request.status_address = last.address + last.length - 1;
  if (chain.readable.size() + chain.writable.size() > kMaxChainBuffers) {
    request.too_many_buffers = true;  // `chain`'s lists are freed on return
    return request;
  }
  request.readable = std::move(chain.readable);
  request.writable = std::move(chain.writable);
  GuestBuffer& data_tail = request.writable.back();
  if (--data_tail.length == 0) request.writable.pop_back();
  return request;
}

BlkOutcome execute_request(const BlkRequest& request, const GuestMemory& memory, const BlkDisk& disk) {
  BlkOutcome outcome;
  try {
    if (request.too_many_buffers) {
      fail(outcome, kStatusIoErr,
           "request with more than " + std::to_string(kMaxChainBuffers) + " buffers refused");
      return outcome;
    }
    const std::uint64_t readable = total_bytes(request.readable);
    if (readable < sizeof(RequestHeader)) {
      fail(outcome, kStatusIoErr,
           "request header of " + std::to_string(readable) + " readable bytes (needs 16)");
      return outcome;
    }
    RequestHeader header{};
    copy_from_guest(memory, request.readable, 0,
                    std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&header), sizeof header));
    outcome.type = header.type;
    const std::uint64_t payload = readable - sizeof(RequestHeader);
    const bool writes = header.type == kRequestOut || header.type == kRequestDiscard ||
                        header.type == kRequestWriteZeroes;
    if (writes && disk.read_only) {
      // 5.2.6.2: IOERR for writes to a read-only device, nothing written.
      fail(outcome, kStatusIoErr,
           "write request (type " + std::to_string(header.type) + ") to a read-only disk");
      return outcome;
    }
    switch (header.type) {
      case kRequestIn: read_sectors(outcome, request, memory, disk, header.sector); break;
      case kRequestOut: write_sectors(outcome, request, memory, disk, header.sector, payload); break;
      case kRequestFlush:
        // Every write we completed is in the image already; flush makes them
        // durable. Nothing to do when nothing could have been written.
        if (!disk.read_only) disk.image.flush();
        outcome.status = kStatusOk;
        break;
      case kRequestGetId: get_id(outcome, request, memory, disk); break;
      case kRequestDiscard: discard_or_zero(outcome, request, memory, disk, true, payload); break;
      case kRequestWriteZeroes: discard_or_zero(outcome, request, memory, disk, false, payload); break;
      default:
        fail(outcome, kStatusUnsupported, "unsupported request type " + std::to_string(header.type));
        break;
    }
  } catch (const block::DiskImageError& error) {
    outcome.data_written = 0;
    fail(outcome, kStatusIoErr,
         std::string("disk image error (") + std::string(block::disk_image_error_code_name(error.code())) +
             "): " + error.what());
  } catch (const std::exception& error) {
    // GuestMemory refusing a validated buffer, or no memory: still only this
    // request fails.
    outcome.data_written = 0;
    fail(outcome, kStatusIoErr, std::string("internal error: ") + error.what());
  }
  return outcome;
}

}  // namespace nestbox::virtio::blk
