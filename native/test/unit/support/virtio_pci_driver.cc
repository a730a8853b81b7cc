#include "support/virtio_pci_driver.h"

#include "bus/pci/msix.h"
#include "bus/pci/pci_abi.h"
#include "devices/virtio/virtio_abi.h"

namespace nestbox::test {

namespace t = virtio::pci_transport;

std::uint64_t VirtioPciDriver::device_features() {
  write<std::uint32_t>(t::kDeviceFeatureSelect, 0);
  const std::uint64_t low = read<std::uint32_t>(t::kDeviceFeature);
  write<std::uint32_t>(t::kDeviceFeatureSelect, 1);
  const std::uint64_t high = read<std::uint32_t>(t::kDeviceFeature);
  return low | (high << 32);
}

void VirtioPciDriver::write_driver_features(std::uint64_t features) {
  write<std::uint32_t>(t::kDriverFeatureSelect, 0);
  write<std::uint32_t>(t::kDriverFeature, static_cast<std::uint32_t>(features));
  write<std::uint32_t>(t::kDriverFeatureSelect, 1);
  write<std::uint32_t>(t::kDriverFeature, static_cast<std::uint32_t>(features >> 32));
}

std::uint8_t VirtioPciDriver::negotiate(std::uint64_t features) {
  set_status(0);
  set_status(virtio::kStatusAcknowledge);
  set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver);
  write_driver_features(features);
  set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
  return status();
}

void VirtioPciDriver::setup_queue(std::uint16_t index, const QueueLayout& layout,
                                  std::uint16_t msix_vector) {
  write<std::uint16_t>(t::kQueueSelect, index);
  write<std::uint16_t>(t::kQueueSize, layout.size);
  // 64-bit fields as two 32-bit halves, the way Linux writes them.
  write<std::uint32_t>(t::kQueueDesc, static_cast<std::uint32_t>(layout.descriptor_table));
  write<std::uint32_t>(t::kQueueDesc + 4, static_cast<std::uint32_t>(layout.descriptor_table >> 32));
  write<std::uint64_t>(t::kQueueDriver, layout.avail_ring);
  write<std::uint64_t>(t::kQueueDevice, layout.used_ring);
  write<std::uint16_t>(t::kQueueMsixVector, msix_vector);
  write<std::uint16_t>(t::kQueueEnable, 1);
}

std::uint8_t VirtioPciDriver::find_capability(std::uint8_t id, std::uint8_t vendor_type) {
  auto pointer = config_read<std::uint8_t>(pci::kCapabilitiesPointer);
  for (int hops = 0; pointer != 0 && hops < 48; ++hops) {
    const auto cap_id = config_read<std::uint8_t>(pointer);
    if (cap_id == id && (vendor_type == 0 || config_read<std::uint8_t>(pointer + 3) == vendor_type)) {
      return pointer;
    }
    pointer = config_read<std::uint8_t>(pointer + 1);
  }
  return 0;
}

void VirtioPciDriver::enable_msix(std::uint16_t vector_count, std::uint64_t address,
                                  std::uint32_t data_base) {
  for (std::uint16_t vector = 0; vector < vector_count; ++vector) {
    const std::uint64_t entry = virtio::VirtioPciDevice::kMsixTableOffset + 16ull * vector;
    write<std::uint32_t>(entry, static_cast<std::uint32_t>(address));
    write<std::uint32_t>(entry + 4, static_cast<std::uint32_t>(address >> 32));
    write<std::uint32_t>(entry + 8, data_base + vector);
    write<std::uint32_t>(entry + 12, 0);  // unmask
  }
  const std::uint8_t cap = find_capability(pci::kCapabilityMsix);
  config_write<std::uint16_t>(cap + pci::kMsixMessageControlOffset, pci::kMsixControlEnable);
}

}  // namespace nestbox::test
