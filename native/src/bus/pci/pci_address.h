// A PCI function's bus/device/function number. We have one root bus (0).
#pragma once

#include <cstdint>

namespace nestbox::pci {

inline constexpr std::uint8_t kDevicesPerBus = 32;
inline constexpr std::uint8_t kFunctionsPerDevice = 8;

struct PciAddress {
  std::uint8_t bus = 0;
  std::uint8_t device = 0;    // 0-31
  std::uint8_t function = 0;  // 0-7
  friend bool operator==(const PciAddress&, const PciAddress&) = default;
};

}  // namespace nestbox::pci
