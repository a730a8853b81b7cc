// Function 00:00.0, the host bridge, which is what tells an OS that a PCI
// root bus is here. It has no BARs and no interrupt.
//
// IDs: vendor 0x1b36 (Red Hat, assigned to virtual hardware) device 0x0008,
// "PCIe host bridge". We own no PCI vendor ID; this pair names a generic
// virtual host bridge that no guest driver binds to or applies quirks for.
// Real chipset IDs (e.g. Intel 0x29c0, the Q35 MCH) would make Linux's
// intel-agp and EDAC drivers probe registers we do not implement.
#pragma once

#include <memory>

#include "bus/pci/pci_function.h"

namespace nestbox::pci {

inline constexpr std::uint16_t kHostBridgeVendorId = 0x1b36;
inline constexpr std::uint16_t kHostBridgeDeviceId = 0x0008;
inline constexpr std::uint32_t kClassHostBridge = 0x060000;

class PciHostBridge : public PciFunction {
 public:
  PciHostBridge();

 protected:
  std::shared_ptr<BusDevice> bar_region(std::uint8_t) override { return nullptr; }
};

}  // namespace nestbox::pci
