// The AML that describes our PCI root bus to the guest, for \_SB:
//   Device (PCI0): _HID PNP0A08 (PCI Express root bridge; _CID PNP0A03), _SEG,
//     _BBN, _UID, _CRS (bus range, the 0xcf8 ports it consumes, the I/O and
//     MMIO windows BARs live in) and _PRT (the INTx → GSI table).
//   Device (PCIM): PNP0C02 motherboard resources claiming the ECAM window.
//     Linux only trusts an MCFG area that is reserved in the e820 map or by
//     a PNP0C02 device ("MMCONFIG ... not reserved in ACPI motherboard
//     resources" → it falls back to 0xcf8); the device makes this
//     self-contained.
//
// Machine wiring: AcpiPlatform::system_bus_terms.push_back(pci::build_pci_acpi_terms(
//                     pci::PciAcpiConfig{}, root.interrupt_routes()));
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bus/pci/pci_layout.h"
#include "bus/pci/pci_root_complex.h"

namespace nestbox::pci {

struct PciAcpiConfig {
  std::uint16_t segment = kPciSegment;
  std::uint8_t first_bus = kFirstBus;
  std::uint8_t last_bus = kLastBus;
  std::uint64_t ecam_base = kEcamBase;
  std::uint64_t ecam_size = kEcamSize;
  std::uint64_t io_window_base = kIoWindowBase;
  std::uint64_t io_window_size = kIoWindowSize;
  std::uint64_t mmio_window_base = kMmioWindowBase;
  std::uint64_t mmio_window_size = kMmioWindowSize;
};

std::vector<std::uint8_t> build_pci_acpi_terms(const PciAcpiConfig& config,
                                               std::span<const PciInterruptRoute> routes);

// The _CRS resource descriptors of PCI0 (exposed for tests).
std::vector<std::uint8_t> build_pci_root_resources(const PciAcpiConfig& config);

}  // namespace nestbox::pci
