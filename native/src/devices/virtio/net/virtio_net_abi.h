// The virtio network device's guest-visible layout (virtio 1.2, section 5.1):
// feature bits, the configuration space and the per-packet header. All fields
// little-endian, which is also our host's order (x86-64 only).
//
// The namespace is net_abi, not net: a nested `net` would hide nestbox::net
// (the backends) inside nestbox::virtio.
#pragma once

#include <bit>
#include <cstdint>

namespace nestbox::virtio::net_abi {

static_assert(std::endian::native == std::endian::little, "virtio-net fields are little-endian");

// Queue indices without VIRTIO_NET_F_MQ: one pair, no control queue.
inline constexpr std::uint16_t kReceiveQueue = 0;
inline constexpr std::uint16_t kTransmitQueue = 1;

// Feature bits (5.1.3). Only those we offer or must recognise are named.
inline constexpr std::uint64_t kFeatureCsum = 1ull << 0;       // not offered
inline constexpr std::uint64_t kFeatureGuestCsum = 1ull << 1;  // not offered
inline constexpr std::uint64_t kFeatureMtu = 1ull << 3;
inline constexpr std::uint64_t kFeatureMac = 1ull << 5;
inline constexpr std::uint64_t kFeatureMrgRxbuf = 1ull << 15;
inline constexpr std::uint64_t kFeatureStatus = 1ull << 16;

// struct virtio_net_config (5.1.4), as far as our features make it exist:
//   u8 mac[6]; le16 status; le16 max_virtqueue_pairs; le16 mtu;
inline constexpr std::uint32_t kConfigMacOffset = 0;
inline constexpr std::uint32_t kConfigStatusOffset = 6;
inline constexpr std::uint32_t kConfigMaxVirtqueuePairsOffset = 8;
inline constexpr std::uint32_t kConfigMtuOffset = 10;
inline constexpr std::uint32_t kConfigSize = 12;

// The status field.
inline constexpr std::uint16_t kStatusLinkUp = 1;

// struct virtio_net_hdr (5.1.6). With VIRTIO_F_VERSION_1 num_buffers is always
// present, so the header is 12 bytes with or without MRG_RXBUF.
struct NetHeader {
  std::uint8_t flags;
  std::uint8_t gso_type;
  std::uint16_t hdr_len;
  std::uint16_t gso_size;
  std::uint16_t csum_start;
  std::uint16_t csum_offset;
  std::uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == 12);
inline constexpr std::uint32_t kHeaderSize = sizeof(NetHeader);

inline constexpr std::uint8_t kHeaderFlagNeedsCsum = 1;
inline constexpr std::uint8_t kGsoNone = 0;

// Ethernet sizes (no FCS: neither side of a virtio-net queue carries one).
inline constexpr std::uint32_t kEthernetHeaderSize = 14;
inline constexpr std::uint32_t kVlanTagSize = 4;
// The largest frame any virtio-net driver produces (a 64 KiB GSO packet plus
// link headers); with the header this is the 65562 other VMMs also use.
inline constexpr std::uint32_t kMaxFrameSize = 65550;
inline constexpr std::uint32_t kMaxPacketSize = kHeaderSize + kMaxFrameSize;

}  // namespace nestbox::virtio::net_abi
