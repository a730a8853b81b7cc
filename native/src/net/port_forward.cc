#include "net/port_forward.h"

namespace nestbox::net {

std::string PortForward::describe() const {
  return std::string(protocol_name(protocol)) + " " + host_address + ":" +
         std::to_string(host_port) + " -> " + (guest_address.empty() ? "guest" : guest_address) +
         ":" + std::to_string(guest_port);
}

}  // namespace nestbox::net
