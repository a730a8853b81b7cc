#include "devices/virtio/rng/entropy_source.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/nestbox_error.h"

namespace nestbox::virtio {

EntropySource host_entropy_source() {
  return [](std::span<std::uint8_t> buffer) {
    std::size_t filled = 0;
    while (filled < buffer.size()) {
      const ssize_t got = ::getrandom(buffer.data() + filled, buffer.size() - filled, 0);
      if (got < 0) {
        if (errno == EINTR) continue;  // a signal (e.g. a vCPU kick) interrupted us
        throw NestboxError(ErrorCode::InvalidState,
                           std::string("getrandom failed: ") + std::strerror(errno));
      }
      filled += static_cast<std::size_t>(got);
    }
  };
}

}  // namespace nestbox::virtio
