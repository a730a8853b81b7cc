// libFuzzer target: a guest-controlled split virtqueue. The input becomes the
// queue configuration and the contents of guest RAM; the descriptor walker,
// the used-ring updates and the notification logic run over it directly, and
// then virtio-rng runs over it through the virtio-pci transport as a driver
// would set it up. Anything but a clean return (crash, sanitizer report,
// hang) is a bug: broken queues must end in VirtQueueError / NEEDS_RESET.
//
// Input layout (little-endian):
//   [0..1]  queue size as the driver writes it (may be invalid)
//   [2]     bit 0: VIRTIO_F_EVENT_IDX, bit 1: VIRTIO_F_INDIRECT_DESC
//   [3..5]  descriptor table, available ring, used ring: each a byte × 256
//           (so they can also land past the end of RAM), then
//   [6..]   guest RAM contents from address 0 (the rest is zero)
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "devices/virtio/queue/virt_queue.h"
#include "devices/virtio/queue/virt_queue_error.h"
#include "devices/virtio/rng/virtio_rng.h"
#include "devices/virtio/virtio_abi.h"
#include "memory/guest_memory.h"

using namespace nestbox;
using namespace nestbox::virtio;

namespace {

constexpr std::uint64_t kRamSize = 64 * 1024;
constexpr std::size_t kHeader = 6;

const GuestMemory& memory() {
  static const GuestMemory ram = GuestMemory::allocate({GuestRamRegion{0, kRamSize}});
  return ram;
}

struct Input {
  std::uint16_t size;
  bool event_index;
  bool indirect;
  std::uint64_t descriptor_table;
  std::uint64_t avail_ring;
  std::uint64_t used_ring;
};

void load_ram(const std::uint8_t* data, std::size_t size) {
  const std::span<std::uint8_t> ram = memory().span(0, kRamSize);
  std::fill(ram.begin(), ram.end(), std::uint8_t{0});
  if (size > kHeader) {
    std::memcpy(ram.data(), data + kHeader, std::min<std::size_t>(size - kHeader, kRamSize));
  }
}

void run_queue(const Input& input) {
  VirtQueue queue(1024);
  queue.set_size(input.size);
  queue.set_descriptor_table(input.descriptor_table);
  queue.set_avail_ring(input.avail_ring);
  queue.set_used_ring(input.used_ring);
  queue.set_ring_features(input.event_index, input.indirect);
  try {
    queue.enable(memory());
    // pop() hands out at most `size` chains before the available index must
    // move again, and nothing here moves it: the loop ends.
    while (auto chain = queue.pop(memory())) {
      const std::uint64_t written = std::min<std::uint64_t>(chain->writable_bytes(), 0xffff'ffff);
      queue.add_used(memory(), chain->head, static_cast<std::uint32_t>(written));
      (void)queue.needs_notification(memory());
    }
  } catch (const VirtQueueError&) {
    // Expected for malformed queues.
  }
}

template <typename T>
void bar_write(VirtioPciDevice& device, std::uint64_t offset, T value) {
  std::array<std::uint8_t, sizeof(T)> bytes{};
  std::memcpy(bytes.data(), &value, sizeof(T));
  device.bar_write(offset, bytes);
}

void run_rng(const Input& input) {
  auto device = std::make_shared<VirtioPciDevice>(
      std::make_unique<VirtioRng>([](std::span<std::uint8_t> buffer) {
        std::fill(buffer.begin(), buffer.end(), std::uint8_t{0xa5});
      }),
      memory(), nullptr);
  namespace t = pci_transport;
  const std::uint64_t features = kFeatureVersion1 | (input.event_index ? kFeatureEventIdx : 0) |
                                 (input.indirect ? kFeatureIndirectDesc : 0);
  bar_write<std::uint8_t>(*device, t::kDeviceStatus, kStatusAcknowledge | kStatusDriver);
  bar_write<std::uint32_t>(*device, t::kDriverFeatureSelect, 0);
  bar_write<std::uint32_t>(*device, t::kDriverFeature, static_cast<std::uint32_t>(features));
  bar_write<std::uint32_t>(*device, t::kDriverFeatureSelect, 1);
  bar_write<std::uint32_t>(*device, t::kDriverFeature, static_cast<std::uint32_t>(features >> 32));
  bar_write<std::uint8_t>(*device, t::kDeviceStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  bar_write<std::uint16_t>(*device, t::kQueueSelect, 0);
  bar_write<std::uint16_t>(*device, t::kQueueSize, input.size);
  bar_write<std::uint64_t>(*device, t::kQueueDesc, input.descriptor_table);
  bar_write<std::uint64_t>(*device, t::kQueueDriver, input.avail_ring);
  bar_write<std::uint64_t>(*device, t::kQueueDevice, input.used_ring);
  bar_write<std::uint16_t>(*device, t::kQueueEnable, 1);
  bar_write<std::uint8_t>(*device, t::kDeviceStatus,
                          kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  device->notify_queue(0);
  bar_write<std::uint16_t>(*device, VirtioPciDevice::notify_offset(0), 0);
  std::array<std::uint8_t, 1> isr{};
  device->bar_read(VirtioPciDevice::kIsrOffset, isr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeader) return 0;
  Input input;
  input.size = static_cast<std::uint16_t>(data[0] | (data[1] << 8));
  input.event_index = (data[2] & 1) != 0;
  input.indirect = (data[2] & 2) != 0;
  input.descriptor_table = std::uint64_t{data[3]} * 256;
  input.avail_ring = std::uint64_t{data[4]} * 256;
  input.used_ring = std::uint64_t{data[5]} * 256;

  load_ram(data, size);
  run_queue(input);
  load_ram(data, size);  // the first run wrote used rings; start the device from the input again
  run_rng(input);
  return 0;
}
