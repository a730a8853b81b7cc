// The user-mode network a VM sees, VirtualBox/QEMU "NAT" style: the guest is
// alone on a private subnet whose gateway, DHCP and DNS server are emulated by
// libslirp; its connections leave as ordinary sockets of the VM host process.
// Defaults are the addresses every guest image already expects from QEMU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/port_forward.h"

namespace nestbox::net {

struct SlirpNetworkConfig {
  std::string network = "10.0.2.0";
  std::uint8_t prefix_length = 24;
  std::string host = "10.0.2.2";        // the gateway; also the host itself (see below)
  std::string dhcp_start = "10.0.2.15"; // the first (usually only) lease
  std::string dns = "10.0.2.3";         // forwards to the host's resolvers

  // On, as in QEMU: guests get a ULA address by router advertisement and reach
  // IPv6 hosts when the host can. The prefix is the one slirp4netns uses.
  bool ipv6 = true;
  std::string ipv6_prefix = "fd00::";
  std::uint8_t ipv6_prefix_length = 64;
  std::string ipv6_host = "fd00::2";
  std::string ipv6_dns = "fd00::3";

  std::string guest_hostname;  // offered by DHCP (option 12); empty: none
  std::string domain_name;     // offered by DHCP (option 15); empty: none

  // libslirp's "restricted": the guest reaches nothing outside; only port
  // forwards connect in. For untrusted guests.
  bool isolated = false;
  // Connections to `host` reach the host's own loopback services (a dev server
  // on 127.0.0.1 is reachable from the guest at 10.0.2.2).
  bool allow_host_loopback = true;

  std::vector<PortForward> port_forwards;
};

}  // namespace nestbox::net
