// PCIe enhanced configuration access (ECAM, PCIe 3.0 7.2.2): one 4 KiB page
// of MMIO per function, bus << 20 | device << 15 | function << 12 | register.
// Ours covers bus 0 only (1 MiB at pci::kEcamBase; the MCFG says so).
//
// Integration: MMIO, pci::kEcamBase, pci::kEcamSize:
//   mmio_bus.attach(pci::kEcamBase, pci::kEcamSize, std::make_shared<pci::PciEcam>(root));
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "bus/bus_device.h"
#include "bus/pci/pci_root_complex.h"

namespace nestbox::pci {

class PciEcam : public BusDevice {
 public:
  explicit PciEcam(std::shared_ptr<PciRootComplex> root) : root_(std::move(root)) {}

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  std::shared_ptr<PciRootComplex> root_;
};

}  // namespace nestbox::pci
