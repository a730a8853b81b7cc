// The MCFG table (PCI Firmware 3.0, 4.1.2): where the ECAM window of each PCI
// segment is, so the OS uses memory-mapped config access (and reaches the
// extended 4 KiB config space) instead of ports 0xcf8/0xcfc.
//
// Machine wiring: AcpiPlatform::extra_tables.push_back(pci::build_mcfg(...)).
// The writer sets the checksum again when it places the table; ours is valid
// on its own too.
#pragma once

#include <cstdint>
#include <vector>

#include "bus/pci/pci_layout.h"

namespace nestbox::pci {

inline constexpr std::uint8_t kMcfgRevision = 1;

std::vector<std::uint8_t> build_mcfg(std::uint64_t ecam_base = kEcamBase,
                                     std::uint16_t segment = kPciSegment,
                                     std::uint8_t first_bus = kFirstBus,
                                     std::uint8_t last_bus = kLastBus);

}  // namespace nestbox::pci
