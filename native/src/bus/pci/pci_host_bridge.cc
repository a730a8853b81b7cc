#include "bus/pci/pci_host_bridge.h"

namespace nestbox::pci {

PciHostBridge::PciHostBridge()
    : PciFunction(PciIdentity{kHostBridgeVendorId, kHostBridgeDeviceId, 0, kClassHostBridge,
                              kHostBridgeVendorId, 0x1100, kInterruptPinNone}) {}

}  // namespace nestbox::pci
