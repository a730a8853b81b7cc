// A small Ethernet / ARP / IPv4 / UDP / DHCP / TCP frame toolkit for tests:
// builds what a fake guest sends and parses what the network answers. Parsers
// check lengths and checksums and return nullopt for anything else, so a test
// can scan every received frame for the one it waits for.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/mac_address.h"

namespace nestbox::test::net {

using nestbox::net::MacAddress;
using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint16_t ethertype_ipv4 = 0x0800;
inline constexpr std::uint16_t ethertype_arp = 0x0806;
inline constexpr std::uint16_t ethertype_ipv6 = 0x86dd;
inline constexpr std::uint8_t ip_protocol_tcp = 6;
inline constexpr std::uint8_t ip_protocol_udp = 17;
inline constexpr MacAddress broadcast_mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// IPv4 addresses in host byte order.
std::uint32_t ipv4(std::string_view dotted);
std::string ipv4_text(std::uint32_t address);

struct EthernetFrame {
  MacAddress destination;
  MacAddress source;
  std::uint16_t ethertype = 0;
  std::span<const std::uint8_t> payload;
};
std::optional<EthernetFrame> parse_ethernet(std::span<const std::uint8_t> frame);

// --- ARP (Ethernet/IPv4) ---
struct ArpPacket {
  std::uint16_t operation = 0;  // 1 request, 2 reply
  MacAddress sender_mac;
  std::uint32_t sender_ip = 0;
  MacAddress target_mac;
  std::uint32_t target_ip = 0;
};
Bytes build_arp_request(const MacAddress& sender_mac, std::uint32_t sender_ip,
                        std::uint32_t target_ip);
Bytes build_arp_reply(const MacAddress& sender_mac, std::uint32_t sender_ip,
                      const MacAddress& target_mac, std::uint32_t target_ip);
std::optional<ArpPacket> parse_arp(std::span<const std::uint8_t> frame);

// --- IPv4 ---
struct Ipv4Packet {
  std::uint32_t source = 0;
  std::uint32_t destination = 0;
  std::uint8_t protocol = 0;
  std::span<const std::uint8_t> payload;
};
Bytes build_ipv4_frame(const MacAddress& source_mac, const MacAddress& destination_mac,
                       std::uint32_t source, std::uint32_t destination, std::uint8_t protocol,
                       std::span<const std::uint8_t> payload);
// Checks the header checksum and lengths.
std::optional<Ipv4Packet> parse_ipv4(std::span<const std::uint8_t> frame);

// --- UDP ---
struct UdpDatagram {
  std::uint32_t source_ip = 0;
  std::uint32_t destination_ip = 0;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::span<const std::uint8_t> payload;
};
Bytes build_udp_frame(const MacAddress& source_mac, const MacAddress& destination_mac,
                      std::uint32_t source_ip, std::uint32_t destination_ip,
                      std::uint16_t source_port, std::uint16_t destination_port,
                      std::span<const std::uint8_t> payload);
std::optional<UdpDatagram> parse_udp(std::span<const std::uint8_t> frame);

// --- DHCP (client side) ---
enum class DhcpType : std::uint8_t { Discover = 1, Offer = 2, Request = 3, Ack = 5, Nak = 6 };
Bytes build_dhcp_discover(const MacAddress& client, std::uint32_t transaction_id);
Bytes build_dhcp_request(const MacAddress& client, std::uint32_t transaction_id,
                         std::uint32_t requested_ip, std::uint32_t server_id);
struct DhcpReply {
  DhcpType type{};
  std::uint32_t transaction_id = 0;
  MacAddress client;
  std::uint32_t your_ip = 0;
  std::uint32_t server_id = 0;
  std::uint32_t subnet_mask = 0;
  std::vector<std::uint32_t> routers;
  std::vector<std::uint32_t> dns_servers;
  std::uint32_t lease_seconds = 0;
  std::string hostname;
};
// A BOOTREPLY from port 67 to 68; nullopt for any other frame.
std::optional<DhcpReply> parse_dhcp_reply(std::span<const std::uint8_t> frame);

// --- TCP ---
namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
}  // namespace tcp_flag

struct TcpEndpoints {
  MacAddress source_mac;
  MacAddress destination_mac;
  std::uint32_t source_ip = 0;
  std::uint32_t destination_ip = 0;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
};
Bytes build_tcp_frame(const TcpEndpoints& endpoints, std::uint32_t sequence,
                      std::uint32_t acknowledgment, std::uint8_t flags,
                      std::span<const std::uint8_t> payload = {}, std::uint16_t window = 65535);
struct TcpSegment {
  std::uint32_t source_ip = 0;
  std::uint32_t destination_ip = 0;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t sequence = 0;
  std::uint32_t acknowledgment = 0;
  std::uint8_t flags = 0;
  Bytes payload;
  [[nodiscard]] bool has(std::uint8_t flag) const { return (flags & flag) == flag; }
};
// Checks the TCP checksum.
std::optional<TcpSegment> parse_tcp(std::span<const std::uint8_t> frame);

inline std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace nestbox::test::net
