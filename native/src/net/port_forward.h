// A host-to-guest port forward: connections (or datagrams) to a port on the
// host reach a port of the guest behind the user-mode network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nestbox::net {

enum class NetProtocol { Tcp, Udp };

constexpr std::string_view protocol_name(NetProtocol protocol) {
  return protocol == NetProtocol::Tcp ? "tcp" : "udp";
}

struct PortForward {
  NetProtocol protocol = NetProtocol::Tcp;
  // Loopback by default: a forward must not expose the guest to the LAN
  // unless the user asks for it ("0.0.0.0").
  std::string host_address = "127.0.0.1";
  std::uint16_t host_port = 0;  // 1-65535
  std::string guest_address;    // empty: the address DHCP gives the guest
  std::uint16_t guest_port = 0; // 1-65535

  // "tcp 127.0.0.1:8080 -> guest:80", for messages.
  [[nodiscard]] std::string describe() const;
};

}  // namespace nestbox::net
