// The virtio block device's wire format (virtio 1.2, section 5.2): feature
// bits, the configuration space layout, request types and status values, and
// the structures a driver puts in a request. All fields little-endian, which
// is also our host's order (x86-64 only; virtq_abi.h asserts it).
#pragma once

#include <cstdint>

namespace nestbox::virtio::blk {

// Feature bits (5.2.3). Only those we may offer or must recognise.
inline constexpr std::uint64_t kFeatureSizeMax = 1ull << 1;
inline constexpr std::uint64_t kFeatureSegMax = 1ull << 2;
inline constexpr std::uint64_t kFeatureGeometry = 1ull << 4;
inline constexpr std::uint64_t kFeatureReadOnly = 1ull << 5;
inline constexpr std::uint64_t kFeatureBlkSize = 1ull << 6;
inline constexpr std::uint64_t kFeatureFlush = 1ull << 9;
inline constexpr std::uint64_t kFeatureTopology = 1ull << 10;
inline constexpr std::uint64_t kFeatureConfigWce = 1ull << 11;
inline constexpr std::uint64_t kFeatureMultiQueue = 1ull << 12;
inline constexpr std::uint64_t kFeatureDiscard = 1ull << 13;
inline constexpr std::uint64_t kFeatureWriteZeroes = 1ull << 14;

// struct virtio_blk_config (5.2.4): byte offsets of the fields we fill. The
// geometry (16..19), topology (24..31), writeback (32) and unused bytes stay 0.
inline constexpr std::uint32_t kConfigCapacity = 0;               // le64, 512-byte sectors
inline constexpr std::uint32_t kConfigSizeMax = 8;                // le32
inline constexpr std::uint32_t kConfigSegMax = 12;                // le32
inline constexpr std::uint32_t kConfigBlkSize = 20;               // le32
inline constexpr std::uint32_t kConfigNumQueues = 34;             // le16
inline constexpr std::uint32_t kConfigMaxDiscardSectors = 36;     // le32
inline constexpr std::uint32_t kConfigMaxDiscardSeg = 40;         // le32
inline constexpr std::uint32_t kConfigDiscardSectorAlignment = 44;  // le32
inline constexpr std::uint32_t kConfigMaxWriteZeroesSectors = 48;   // le32
inline constexpr std::uint32_t kConfigMaxWriteZeroesSeg = 52;       // le32
inline constexpr std::uint32_t kConfigWriteZeroesMayUnmap = 56;     // u8
// Through unused1[3]: the secure-erase and zoned fields that follow belong to
// features we do not offer, so the driver never reads them.
inline constexpr std::uint32_t kConfigSize = 60;

// Request types (5.2.6).
inline constexpr std::uint32_t kRequestIn = 0;
inline constexpr std::uint32_t kRequestOut = 1;
inline constexpr std::uint32_t kRequestFlush = 4;
inline constexpr std::uint32_t kRequestGetId = 8;
inline constexpr std::uint32_t kRequestGetLifetime = 10;
inline constexpr std::uint32_t kRequestDiscard = 11;
inline constexpr std::uint32_t kRequestWriteZeroes = 13;
inline constexpr std::uint32_t kRequestSecureErase = 14;

// The status byte, the last byte of every request.
inline constexpr std::uint8_t kStatusOk = 0;
inline constexpr std::uint8_t kStatusIoErr = 1;
inline constexpr std::uint8_t kStatusUnsupported = 2;

inline constexpr std::uint64_t kSectorSize = 512;  // request sectors are always 512 bytes
inline constexpr std::uint32_t kIdBytes = 20;      // VIRTIO_BLK_ID_BYTES

// The first 16 device-readable bytes of every request.
struct RequestHeader {
  std::uint32_t type;
  std::uint32_t reserved;  // I/O priority in Linux; ignored
  std::uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

// The payload of DISCARD and WRITE_ZEROES: one or more of these.
struct DiscardWriteZeroesSegment {
  std::uint64_t sector;
  std::uint32_t num_sectors;
  std::uint32_t flags;
};
static_assert(sizeof(DiscardWriteZeroesSegment) == 16);
inline constexpr std::uint32_t kSegmentFlagUnmap = 1;

}  // namespace nestbox::virtio::blk
