// A virtio device on PCI, modern transport only (virtio 1.2, 4.1): vendor
// 0x1af4, device 0x1040 + type, revision 1. One 64-bit memory BAR (BAR 0,
// 32 KiB) holds every structure, each on its own 4 KiB page:
//   0x0000 common configuration      0x3000 notifications (4 bytes per queue)
//   0x1000 ISR status                0x4000 MSI-X table, 0x6000 MSI-X PBA
//   0x2000 device configuration
// Capabilities: common, notify (notify_off_multiplier 4, queue_notify_off =
// queue index), ISR, device, the PCI config access window, and MSI-X (one
// vector per queue plus one for configuration changes).
//
// Interrupts: MSI-X when the driver enabled it (a queue or the config space
// with VIRTIO_MSI_NO_VECTOR gets none), otherwise ISR bits and INTx.
//
// Notifications: the driver writes a queue index at bar + notify_offset(q).
// The machine binds those addresses to ioeventfds (notify_addresses()) and
// calls notify_queue() from its I/O thread; a write that still arrives as an
// MMIO exit does the same through the BAR.
//
// A queue the driver broke puts the device in DEVICE_NEEDS_RESET (status
// 0x40) with a configuration interrupt and a log line; the device then does
// nothing until the driver resets it by writing 0 to device_status.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "bus/pci/msi_sink.h"
#include "bus/pci/msix.h"
#include "bus/pci/pci_function.h"
#include "devices/virtio/queue/virt_queue.h"
#include "devices/virtio/virtio_abi.h"
#include "devices/virtio/virtio_device.h"
#include "memory/guest_memory.h"

namespace nestbox::virtio {

struct VirtioPciQueueState {
  VirtQueueState queue;
  std::uint16_t msix_vector = 0xffff;
};

// The transport's plain state. The device type's own state (if any) is saved
// by its own save()/restore(), restored before this.
struct VirtioPciState {
  pci::PciFunctionState function;
  pci::MsixState msix;
  std::uint8_t status = 0;
  std::uint8_t config_generation = 0;
  std::uint8_t isr = 0;
  std::uint32_t device_feature_select = 0;
  std::uint32_t driver_feature_select = 0;
  std::uint64_t driver_features = 0;
  std::uint16_t queue_select = 0;
  std::uint16_t config_msix_vector = 0xffff;
  std::vector<VirtioPciQueueState> queues;
};

// A guest-physical address the machine can bind to an ioeventfd.
struct VirtioNotifyAddress {
  std::uint16_t queue;
  std::uint64_t address;
  std::uint32_t length;  // bytes the driver writes (the 16-bit queue index)
};

class VirtioPciDevice : public pci::PciFunction,
                        public std::enable_shared_from_this<VirtioPciDevice> {
 public:
  using Logger = std::function<void(std::string_view)>;

  static constexpr std::uint8_t kBar = 0;
  static constexpr std::uint64_t kBarSize = 0x8000;
  static constexpr std::uint64_t kCommonCfgOffset = 0x0000;
  static constexpr std::uint64_t kIsrOffset = 0x1000;
  static constexpr std::uint64_t kDeviceCfgOffset = 0x2000;
  static constexpr std::uint64_t kNotifyOffset = 0x3000;
  static constexpr std::uint64_t kMsixTableOffset = 0x4000;
  static constexpr std::uint64_t kMsixPbaOffset = 0x6000;
  static constexpr std::uint64_t kRegionSize = 0x1000;
  static constexpr std::uint32_t kNotifyOffMultiplier = 4;
  static constexpr std::size_t kMaxQueues = 256;  // MSI-X table (queues + 1 vectors) fits 0x2000

  // `memory` must outlive the device. `msi` may be null (INTx only). Throws
  // NestboxError (InvalidConfig) for a device with 0 or too many queues.
  VirtioPciDevice(std::unique_ptr<VirtioDevice> device, const GuestMemory& memory,
                  std::shared_ptr<pci::MsiSink> msi, Logger log = {});
  ~VirtioPciDevice() override;

  [[nodiscard]] std::uint16_t queue_count() const { return static_cast<std::uint16_t>(queues_.size()); }
  static constexpr std::uint64_t notify_offset(std::uint16_t queue) {
    return kNotifyOffset + std::uint64_t{kNotifyOffMultiplier} * queue;
  }
  // Where each queue's notification lands with BAR 0 at `bar_address` (use
  // PciBarMapping::address from the mapper).
  [[nodiscard]] std::vector<VirtioNotifyAddress> notify_addresses(std::uint64_t bar_address) const;

  // The driver notified `queue` (ioeventfd or MMIO). Any thread.
  void notify_queue(std::uint16_t queue);
  // The device's configuration changed outside a queue request (any thread).
  void device_config_changed();

  // BAR 0 accesses (offsets from the BAR).
  void bar_read(std::uint64_t offset, std::span<std::uint8_t> data);
  void bar_write(std::uint64_t offset, std::span<const std::uint8_t> data);

  [[nodiscard]] std::uint8_t device_status() const;
  [[nodiscard]] VirtioDevice& device() { return *device_; }

  [[nodiscard]] VirtioPciState save() const;
  // Restores the transport (config space, BAR mappings, MSI-X, queues) and
  // re-activates the device if the snapshot had DRIVER_OK.
  void restore(const VirtioPciState& state);

 protected:
  std::shared_ptr<BusDevice> bar_region(std::uint8_t index) override;
  void after_config_write(std::uint16_t offset, std::size_t size) override;
  void after_config_read(std::uint16_t offset, std::span<std::uint8_t> data) override;

 private:
  class Interrupt;  // VirtioInterrupt for the device, under our lock

  [[nodiscard]] std::uint64_t offered_features() const;
  [[nodiscard]] std::vector<std::uint8_t> common_registers() const;
  void common_read(std::uint64_t offset, std::span<std::uint8_t> data) const;
  void common_write(std::uint64_t offset, std::span<const std::uint8_t> data);
  void apply_common_field(std::uint16_t field, std::uint32_t value);
  void write_status(std::uint8_t value);
  // The context for an activation, with a run_locked bound to it.
  VirtioDeviceContext make_context();
  void activate();
  void reset();
  void process(std::uint16_t queue);
  void fail(std::string_view why);
  void raise_queue_interrupt(std::uint16_t queue);
  void raise_config_interrupt();
  [[nodiscard]] std::uint16_t checked_vector(std::uint16_t vector) const;
  VirtQueue* selected_queue();
  void log(std::string_view message) const;

  std::unique_ptr<VirtioDevice> device_;
  const GuestMemory& memory_;
  Logger log_;
  pci::MsixVectors msix_;
  std::uint8_t msix_capability_ = 0;
  std::uint8_t pci_cfg_capability_ = 0;
  std::unique_ptr<Interrupt> interrupt_;

  // Recursive: the device may raise interrupts (which take the lock) from
  // inside process_queue(), already under it.
  mutable std::recursive_mutex mutex_;
  std::vector<VirtQueue> queues_;
  std::vector<std::uint16_t> queue_vectors_;
  std::uint8_t status_ = 0;
  std::uint8_t config_generation_ = 0;
  std::uint8_t isr_ = 0;
  std::uint32_t device_feature_select_ = 0;
  std::uint32_t driver_feature_select_ = 0;
  std::uint64_t driver_features_ = 0;
  std::uint16_t queue_select_ = 0;
  std::uint16_t config_vector_ = kNoVector;
  bool activated_ = false;
  // Bumped by every reset: run_locked functions from an older activation refuse.
  std::uint64_t activation_ = 0;
};

}  // namespace nestbox::virtio
