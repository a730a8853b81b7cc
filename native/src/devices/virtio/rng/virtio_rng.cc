#include "devices/virtio/rng/virtio_rng.h"

#include <algorithm>
#include <optional>

#include "devices/virtio/virtio_abi.h"

namespace nestbox::virtio {

VirtioRng::VirtioRng(EntropySource entropy) : entropy_(std::move(entropy)) {}

std::uint16_t VirtioRng::device_type() const { return kDeviceTypeEntropy; }

std::uint32_t VirtioRng::fill(const DescriptorChain& chain) {
  // Readable buffers in a request are a driver bug with nothing to act on:
  // they are skipped and the used length counts only what we wrote.
  std::uint32_t written = 0;
  for (const GuestBuffer& buffer : chain.writable) {
    const std::uint32_t room = kMaxBytesPerRequest - written;
    if (room == 0) break;
    const std::uint32_t length = std::min(buffer.length, room);
    entropy_(context_.memory->span(buffer.address, length));
    written += length;
  }
  return written;
}

void VirtioRng::process_queue(std::uint16_t queue) {
  if (context_.memory == nullptr || queue != 0 || context_.queues.empty()) return;
  VirtQueue& requests = context_.queues[0];
  bool returned_any = false;
  // Until the ring is empty: stopping early would leave the event index
  // unpublished and the driver waiting for us. A driver that refills forever
  // only spends its own VM's time.
  for (;;) {
    const std::optional<DescriptorChain> chain = requests.pop(*context_.memory);
    if (!chain) break;
    const std::uint32_t written = fill(*chain);
    requests.add_used(*context_.memory, chain->head, written);
    state_.bytes_delivered += written;
    returned_any = true;
  }
  if (returned_any && requests.needs_notification(*context_.memory)) {
    context_.interrupt->signal_used_queue(0);
  }
}

}  // namespace nestbox::virtio
