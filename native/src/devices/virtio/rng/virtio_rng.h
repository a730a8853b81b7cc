// virtio-rng (virtio 1.2, section 5.4): one request queue; each buffer the
// driver makes available is device-writable and we fill it with random bytes.
// No feature bits, no configuration space.
//
// A guest can post buffers of any size, so each chain gets at most
// kMaxBytesPerRequest (the spec allows returning fewer bytes than asked; the
// used length says how many). That bounds the work one notification causes.
//
// Integration: std::make_shared<VirtioPciDevice>(std::make_unique<VirtioRng>(
//                  host_entropy_source()), memory, msi_sink, log)
#pragma once

#include <cstdint>

#include "devices/virtio/rng/entropy_source.h"
#include "devices/virtio/virtio_device.h"

namespace nestbox::virtio {

struct VirtioRngState {
  std::uint64_t bytes_delivered = 0;  // statistics only; nothing else survives a snapshot
};

class VirtioRng : public VirtioDevice {
 public:
  static constexpr std::uint16_t kQueueSize = 256;
  static constexpr std::uint32_t kMaxBytesPerRequest = 64 * 1024;

  explicit VirtioRng(EntropySource entropy);

  [[nodiscard]] std::uint16_t device_type() const override;
  [[nodiscard]] std::uint64_t device_features() const override { return 0; }
  [[nodiscard]] std::vector<std::uint16_t> queue_max_sizes() const override { return {kQueueSize}; }

  void activate(const VirtioDeviceContext& context) override { context_ = context; }
  void process_queue(std::uint16_t queue) override;
  void reset() override { context_ = VirtioDeviceContext{}; }

  [[nodiscard]] VirtioRngState save() const { return state_; }
  void restore(const VirtioRngState& state) { state_ = state; }

 private:
  std::uint32_t fill(const DescriptorChain& chain);

  EntropySource entropy_;
  VirtioDeviceContext context_;
  VirtioRngState state_;
};

}  // namespace nestbox::virtio
