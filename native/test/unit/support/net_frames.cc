#include "support/net_frames.h"

#include <arpa/inet.h>

#include <stdexcept>

namespace nestbox::test::net {

namespace {

constexpr std::size_t ethernet_header = 14;
constexpr std::size_t ipv4_header = 20;
constexpr std::size_t udp_header = 8;
constexpr std::size_t tcp_header = 20;
constexpr std::size_t bootp_fixed = 236;
// libslirp's bootp_t carries a 312-byte option area and it ignores shorter
// requests, so the fake client pads to the full 548 bytes (as many do).
constexpr std::size_t dhcp_payload = 548;
constexpr std::uint32_t dhcp_magic = 0x63825363;

std::uint16_t get16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint32_t>(bytes[at]) << 24 | static_cast<std::uint32_t>(bytes[at + 1]) << 16 |
         static_cast<std::uint32_t>(bytes[at + 2]) << 8 | bytes[at + 3];
}
void put16(Bytes& bytes, std::uint16_t value) {
  bytes.push_back(static_cast<std::uint8_t>(value >> 8));
  bytes.push_back(static_cast<std::uint8_t>(value));
}
void put32(Bytes& bytes, std::uint32_t value) {
  put16(bytes, static_cast<std::uint16_t>(value >> 16));
  put16(bytes, static_cast<std::uint16_t>(value));
}
void set16(Bytes& bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 1] = static_cast<std::uint8_t>(value);
}
void put_mac(Bytes& bytes, const MacAddress& mac) {
  bytes.insert(bytes.end(), mac.bytes.begin(), mac.bytes.end());
}
MacAddress get_mac(std::span<const std::uint8_t> bytes, std::size_t at) {
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) {
    mac.bytes[i] = bytes[at + i];
  }
  return mac;
}

// The Internet checksum (RFC 1071) over `bytes`, continuing from `sum`.
std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    sum += get16(bytes, i);
  }
  if (bytes.size() % 2 != 0) {
    sum += static_cast<std::uint32_t>(bytes.back()) << 8;
  }
  return sum;
}
std::uint16_t checksum_finish(std::uint32_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum);
}
std::uint32_t pseudo_header_sum(std::uint32_t source, std::uint32_t destination,
                                std::uint8_t protocol, std::size_t length) {
  return (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff) +
         protocol + static_cast<std::uint32_t>(length);
}

Bytes ethernet(const MacAddress& source, const MacAddress& destination, std::uint16_t ethertype) {
  Bytes frame;
  put_mac(frame, destination);
  put_mac(frame, source);
  put16(frame, ethertype);
  return frame;
}

Bytes arp_frame(std::uint16_t operation, const MacAddress& sender_mac, std::uint32_t sender_ip,
                const MacAddress& target_mac, std::uint32_t target_ip,
                const MacAddress& destination) {
  Bytes frame = ethernet(sender_mac, destination, ethertype_arp);
  put16(frame, 1);       // Ethernet
  put16(frame, 0x0800);  // IPv4
  frame.push_back(6);
  frame.push_back(4);
  put16(frame, operation);
  put_mac(frame, sender_mac);
  put32(frame, sender_ip);
  put_mac(frame, target_mac);
  put32(frame, target_ip);
  return frame;
}

Bytes dhcp_frame(const MacAddress& client, std::uint32_t transaction_id,
                 const std::vector<std::uint8_t>& options) {
  Bytes payload;
  payload.push_back(1);  // BOOTREQUEST
  payload.push_back(1);  // Ethernet
  payload.push_back(6);
  payload.push_back(0);  // hops
  put32(payload, transaction_id);
  put16(payload, 0);       // seconds
  put16(payload, 0x8000);  // broadcast: we have no address yet
  payload.resize(28, 0);   // ciaddr, yiaddr, siaddr, giaddr
  put_mac(payload, client);
  payload.resize(bootp_fixed, 0);  // chaddr padding, sname, file
  put32(payload, dhcp_magic);
  payload.insert(payload.end(), options.begin(), options.end());
  payload.push_back(255);
  payload.resize(dhcp_payload, 0);
  return build_udp_frame(client, broadcast_mac, 0, 0xffffffff, 68, 67, payload);
}

}  // namespace

std::uint32_t ipv4(std::string_view dotted) {
  in_addr address{};
  if (::inet_pton(AF_INET, std::string(dotted).c_str(), &address) != 1) {
    throw std::invalid_argument("not an IPv4 address: " + std::string(dotted));
  }
  return ntohl(address.s_addr);
}

std::string ipv4_text(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::optional<EthernetFrame> parse_ethernet(std::span<const std::uint8_t> frame) {
  if (frame.size() < ethernet_header) {
    return std::nullopt;
  }
  return EthernetFrame{get_mac(frame, 0), get_mac(frame, 6), get16(frame, 12),
                       frame.subspan(ethernet_header)};
}

Bytes build_arp_request(const MacAddress& sender_mac, std::uint32_t sender_ip,
                        std::uint32_t target_ip) {
  return arp_frame(1, sender_mac, sender_ip, MacAddress{}, target_ip, broadcast_mac);
}

Bytes build_arp_reply(const MacAddress& sender_mac, std::uint32_t sender_ip,
                      const MacAddress& target_mac, std::uint32_t target_ip) {
  return arp_frame(2, sender_mac, sender_ip, target_mac, target_ip, target_mac);
}

std::optional<ArpPacket> parse_arp(std::span<const std::uint8_t> frame) {
  const auto eth = parse_ethernet(frame);
  if (!eth || eth->ethertype != ethertype_arp || eth->payload.size() < 28) {
    return std::nullopt;
  }
  const auto arp = eth->payload;
  if (get16(arp, 0) != 1 || get16(arp, 2) != 0x0800 || arp[4] != 6 || arp[5] != 4) {
    return std::nullopt;
  }
  return ArpPacket{get16(arp, 6), get_mac(arp, 8), get32(arp, 14), get_mac(arp, 18),
                   get32(arp, 24)};
}

Bytes build_ipv4_frame(const MacAddress& source_mac, const MacAddress& destination_mac,
                       std::uint32_t source, std::uint32_t destination, std::uint8_t protocol,
                       std::span<const std::uint8_t> payload) {
  Bytes frame = ethernet(source_mac, destination_mac, ethertype_ipv4);
  const std::size_t start = frame.size();
  frame.push_back(0x45);  // version 4, 20-byte header
  frame.push_back(0);
  put16(frame, static_cast<std::uint16_t>(ipv4_header + payload.size()));
  put16(frame, 0x1234);  // identification
  put16(frame, 0x4000);  // don't fragment
  frame.push_back(64);   // TTL
  frame.push_back(protocol);
  put16(frame, 0);  // checksum, below
  put32(frame, source);
  put32(frame, destination);
  set16(frame, start + 10,
        checksum_finish(checksum_add(0, std::span(frame).subspan(start, ipv4_header))));
  frame.insert(frame.end(), payload.begin(), payload.end());
  return frame;
}

std::optional<Ipv4Packet> parse_ipv4(std::span<const std::uint8_t> frame) {
  const auto eth = parse_ethernet(frame);
  if (!eth || eth->ethertype != ethertype_ipv4 || eth->payload.size() < ipv4_header) {
    return std::nullopt;
  }
  const auto ip = eth->payload;
  const std::size_t header = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
  const std::size_t total = get16(ip, 2);
  if ((ip[0] >> 4) != 4 || header < ipv4_header || total < header || total > ip.size() ||
      checksum_finish(checksum_add(0, ip.subspan(0, header))) != 0) {
    return std::nullopt;
  }
  return Ipv4Packet{get32(ip, 12), get32(ip, 16), ip[9], ip.subspan(header, total - header)};
}

Bytes build_udp_frame(const MacAddress& source_mac, const MacAddress& destination_mac,
                      std::uint32_t source_ip, std::uint32_t destination_ip,
                      std::uint16_t source_port, std::uint16_t destination_port,
                      std::span<const std::uint8_t> payload) {
  Bytes udp;
  put16(udp, source_port);
  put16(udp, destination_port);
  put16(udp, static_cast<std::uint16_t>(udp_header + payload.size()));
  put16(udp, 0);
  udp.insert(udp.end(), payload.begin(), payload.end());
  std::uint16_t sum = checksum_finish(checksum_add(
      pseudo_header_sum(source_ip, destination_ip, ip_protocol_udp, udp.size()), udp));
  set16(udp, 6, sum == 0 ? 0xffff : sum);  // 0 would mean "no checksum"
  return build_ipv4_frame(source_mac, destination_mac, source_ip, destination_ip, ip_protocol_udp,
                          udp);
}

std::optional<UdpDatagram> parse_udp(std::span<const std::uint8_t> frame) {
  const auto ip = parse_ipv4(frame);
  if (!ip || ip->protocol != ip_protocol_udp || ip->payload.size() < udp_header) {
    return std::nullopt;
  }
  const auto udp = ip->payload;
  const std::size_t length = get16(udp, 4);
  if (length < udp_header || length > udp.size()) {
    return std::nullopt;
  }
  return UdpDatagram{ip->source, ip->destination, get16(udp, 0), get16(udp, 2),
                     udp.subspan(udp_header, length - udp_header)};
}

Bytes build_dhcp_discover(const MacAddress& client, std::uint32_t transaction_id) {
  return dhcp_frame(client, transaction_id,
                    {53, 1, static_cast<std::uint8_t>(DhcpType::Discover),  // message type
                     55, 4, 1, 3, 6, 12});                                  // parameters wanted
}

Bytes build_dhcp_request(const MacAddress& client, std::uint32_t transaction_id,
                         std::uint32_t requested_ip, std::uint32_t server_id) {
  std::vector<std::uint8_t> options{53, 1, static_cast<std::uint8_t>(DhcpType::Request)};
  const auto add_address = [&options](std::uint8_t code, std::uint32_t address) {
    options.insert(options.end(),
                   {code, 4, static_cast<std::uint8_t>(address >> 24),
                    static_cast<std::uint8_t>(address >> 16), static_cast<std::uint8_t>(address >> 8),
                    static_cast<std::uint8_t>(address)});
  };
  add_address(50, requested_ip);
  add_address(54, server_id);
  options.insert(options.end(), {55, 4, 1, 3, 6, 12});
  return dhcp_frame(client, transaction_id, options);
}

std::optional<DhcpReply> parse_dhcp_reply(std::span<const std::uint8_t> frame) {
  const auto udp = parse_udp(frame);
  if (!udp || udp->source_port != 67 || udp->destination_port != 68 ||
      udp->payload.size() < bootp_fixed + 4) {
    return std::nullopt;
  }
  const auto bootp = udp->payload;
  if (bootp[0] != 2 || get32(bootp, bootp_fixed) != dhcp_magic) {
    return std::nullopt;
  }
  DhcpReply reply;
  reply.transaction_id = get32(bootp, 4);
  reply.your_ip = get32(bootp, 16);
  reply.client = get_mac(bootp, 28);
  bool has_type = false;
  std::size_t at = bootp_fixed + 4;
  while (at < bootp.size()) {
    const std::uint8_t code = bootp[at];
    if (code == 255) {
      break;
    }
    if (code == 0) {
      ++at;
      continue;
    }
    if (at + 2 > bootp.size() || at + 2 + bootp[at + 1] > bootp.size()) {
      return std::nullopt;
    }
    const auto value = bootp.subspan(at + 2, bootp[at + 1]);
    const auto addresses = [&value] {
      std::vector<std::uint32_t> list;
      for (std::size_t i = 0; i + 4 <= value.size(); i += 4) {
        list.push_back(get32(value, i));
      }
      return list;
    };
    switch (code) {
      case 53:
        if (value.size() == 1) {
          reply.type = static_cast<DhcpType>(value[0]);
          has_type = true;
        }
        break;
      case 54: reply.server_id = value.size() == 4 ? get32(value, 0) : 0; break;
      case 1: reply.subnet_mask = value.size() == 4 ? get32(value, 0) : 0; break;
      case 3: reply.routers = addresses(); break;
      case 6: reply.dns_servers = addresses(); break;
      case 51: reply.lease_seconds = value.size() == 4 ? get32(value, 0) : 0; break;
      case 12: reply.hostname.assign(value.begin(), value.end()); break;
      default: break;
    }
    at += 2 + value.size();
  }
  if (!has_type) {
    return std::nullopt;
  }
  return reply;
}

Bytes build_tcp_frame(const TcpEndpoints& endpoints, std::uint32_t sequence,
                      std::uint32_t acknowledgment, std::uint8_t flags,
                      std::span<const std::uint8_t> payload, std::uint16_t window) {
  Bytes tcp;
  put16(tcp, endpoints.source_port);
  put16(tcp, endpoints.destination_port);
  put32(tcp, sequence);
  put32(tcp, acknowledgment);
  tcp.push_back(static_cast<std::uint8_t>((tcp_header / 4) << 4));
  tcp.push_back(flags);
  put16(tcp, window);
  put16(tcp, 0);  // checksum, below
  put16(tcp, 0);  // urgent pointer
  tcp.insert(tcp.end(), payload.begin(), payload.end());
  set16(tcp, 16,
        checksum_finish(checksum_add(pseudo_header_sum(endpoints.source_ip, endpoints.destination_ip,
                                                       ip_protocol_tcp, tcp.size()),
                                     tcp)));
  return build_ipv4_frame(endpoints.source_mac, endpoints.destination_mac, endpoints.source_ip,
                          endpoints.destination_ip, ip_protocol_tcp, tcp);
}

std::optional<TcpSegment> parse_tcp(std::span<const std::uint8_t> frame) {
  const auto ip = parse_ipv4(frame);
  if (!ip || ip->protocol != ip_protocol_tcp || ip->payload.size() < tcp_header) {
    return std::nullopt;
  }
  const auto tcp = ip->payload;
  const std::size_t header = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  if (header < tcp_header || header > tcp.size() ||
      checksum_finish(checksum_add(
          pseudo_header_sum(ip->source, ip->destination, ip_protocol_tcp, tcp.size()), tcp)) != 0) {
    return std::nullopt;
  }
  TcpSegment segment;
  segment.source_ip = ip->source;
  segment.destination_ip = ip->destination;
  segment.source_port = get16(tcp, 0);
  segment.destination_port = get16(tcp, 2);
  segment.sequence = get32(tcp, 4);
  segment.acknowledgment = get32(tcp, 8);
  segment.flags = tcp[13];
  segment.payload.assign(tcp.begin() + static_cast<std::ptrdiff_t>(header), tcp.end());
  return segment;
}

}  // namespace nestbox::test::net
