#include "bus/pci/pci_config_ports.h"

#include <algorithm>
#include <cstring>

namespace nestbox::pci {

namespace {

constexpr std::uint32_t kEnable = 1u << 31;
// Enable, bus, device, function, dword register; bits 30:24 and 1:0 read as zero.
constexpr std::uint32_t kAddressMask = kEnable | 0x00ff'fffc;
constexpr std::uint64_t kDataOffset = 4;

PciAddress decode(std::uint32_t value) {
  return PciAddress{static_cast<std::uint8_t>(value >> 16),
                    static_cast<std::uint8_t>((value >> 11) & 0x1f),
                    static_cast<std::uint8_t>((value >> 8) & 0x7)};
}

}  // namespace

void PciConfigPorts::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  if (offset < kDataOffset) {
    // Only dword accesses reach CONFIG_ADDRESS; narrower ones (e.g. 0xcf9,
    // a reset register on some chipsets) are not ours and float high.
    if (offset == 0 && data.size() == 4) {
      const std::uint32_t value = config_address_.load();
      std::memcpy(data.data(), &value, 4);
    } else {
      std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    }
    return;
  }
  const std::uint32_t address = config_address_.load();
  const std::uint64_t byte = offset - kDataOffset;
  if ((address & kEnable) == 0 || byte + data.size() > 4) {
    std::fill(data.begin(), data.end(), std::uint8_t{0xff});
    return;
  }
  root_->config_read(decode(address), static_cast<std::uint16_t>((address & 0xfc) + byte), data);
}

void PciConfigPorts::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset < kDataOffset) {
    if (offset == 0 && data.size() == 4) {
      std::uint32_t value = 0;
      std::memcpy(&value, data.data(), 4);
      config_address_.store(value & kAddressMask);
    }
    return;
  }
  const std::uint32_t address = config_address_.load();
  const std::uint64_t byte = offset - kDataOffset;
  if ((address & kEnable) == 0 || byte + data.size() > 4) return;
  root_->config_write(decode(address), static_cast<std::uint16_t>((address & 0xfc) + byte), data);
}

}  // namespace nestbox::pci
