#include "bus/pci/pci_ecam.h"

#include <algorithm>

#include "bus/pci/pci_abi.h"

namespace nestbox::pci {

namespace {

PciAddress decode(std::uint64_t offset) {
  return PciAddress{static_cast<std::uint8_t>(offset >> 20),
                    static_cast<std::uint8_t>((offset >> 15) & 0x1f),
                    static_cast<std::uint8_t>((offset >> 12) & 0x7)};
}

// An access that would run into the next function's page is not decoded.
bool within_one_function(std::uint64_t offset, std::size_t size) {
  return (offset & 0xfff) + size <= kExtendedConfigSpaceSize;
}

}  // namespace

void PciEcam::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  if (!within_one_function(offset, data.size())) {
    std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    return;
  }
  root_->config_read(decode(offset), static_cast<std::uint16_t>(offset & 0xfff), data);
}

void PciEcam::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (!within_one_function(offset, data.size())) return;
  root_->config_write(decode(offset), static_cast<std::uint16_t>(offset & 0xfff), data);
}

}  // namespace nestbox::pci
