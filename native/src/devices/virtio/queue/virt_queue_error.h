// A virtqueue the driver broke: a malformed descriptor chain, rings outside
// RAM, an index that jumped. The transport turns it into DEVICE_NEEDS_RESET
// and a configuration-change interrupt; the VMM never crashes over it.
#pragma once

#include <stdexcept>
#include <string>

namespace nestbox::virtio {

class VirtQueueError : public std::runtime_error {
 public:
  explicit VirtQueueError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace nestbox::virtio
