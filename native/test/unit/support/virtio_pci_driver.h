// The guest driver's side of a virtio-pci device, for tests: register access
// to BAR 0 and config space, and the initialization sequence of virtio 1.2
// section 3.1.1. Checks nothing itself; tests assert on what it reads back.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "support/virtqueue_builder.h"

namespace nestbox::test {

class VirtioPciDriver {
 public:
  explicit VirtioPciDriver(virtio::VirtioPciDevice& device) : device_(device) {}

  template <typename T>
  T read(std::uint64_t offset) {
    T value{};
    std::uint8_t bytes[sizeof(T)];
    device_.bar_read(offset, std::span(bytes, sizeof(T)));
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }
  template <typename T>
  void write(std::uint64_t offset, T value) {
    std::uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    device_.bar_write(offset, std::span<const std::uint8_t>(bytes, sizeof(T)));
  }
  template <typename T>
  T config_read(std::uint16_t offset) {
    T value{};
    std::uint8_t bytes[sizeof(T)];
    device_.config_read(offset, std::span(bytes, sizeof(T)));
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }
  template <typename T>
  void config_write(std::uint16_t offset, T value) {
    std::uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    device_.config_write(offset, std::span<const std::uint8_t>(bytes, sizeof(T)));
  }

  std::uint8_t status() { return read<std::uint8_t>(virtio::pci_transport::kDeviceStatus); }
  void set_status(std::uint8_t value) { write<std::uint8_t>(virtio::pci_transport::kDeviceStatus, value); }
  std::uint64_t device_features();
  void write_driver_features(std::uint64_t features);
  // ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns the status read back.
  std::uint8_t negotiate(std::uint64_t features);
  void setup_queue(std::uint16_t index, const QueueLayout& layout, std::uint16_t msix_vector);
  // Offset of the first capability with this vendor cfg_type (0 if none), or
  // of the capability with this ID when `vendor_type` is 0.
  std::uint8_t find_capability(std::uint8_t id, std::uint8_t vendor_type = 0);
  // Turns MSI-X on and points `vector` at address/data.
  void enable_msix(std::uint16_t vector_count, std::uint64_t address, std::uint32_t data_base);

 private:
  virtio::VirtioPciDevice& device_;
};

}  // namespace nestbox::test
