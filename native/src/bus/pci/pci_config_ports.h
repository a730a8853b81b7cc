// Configuration mechanism #1 (PCI 3.0, 3.2.2.3.2): CONFIG_ADDRESS at 0xcf8
// (dword accesses only: bit 31 enable, bus, device, function, register) and
// CONFIG_DATA at 0xcfc-0xcff, where byte and word accesses at 0xcfd-0xcff
// reach the matching bytes of the selected dword.
//
// Integration: port I/O 0xcf8, 8 ports:
//   port_bus.attach(pci::kConfigAddressPort, pci::kConfigPortCount,
//                   std::make_shared<pci::PciConfigPorts>(root));
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "bus/bus_device.h"
#include "bus/pci/pci_root_complex.h"

namespace nestbox::pci {

struct PciConfigPortsState {
  std::uint32_t config_address = 0;
};

class PciConfigPorts : public BusDevice {
 public:
  explicit PciConfigPorts(std::shared_ptr<PciRootComplex> root) : root_(std::move(root)) {}

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  [[nodiscard]] PciConfigPortsState save() const { return {config_address_.load()}; }
  void restore(const PciConfigPortsState& state) { config_address_.store(state.config_address); }

 private:
  std::shared_ptr<PciRootComplex> root_;
  // One latch for the whole machine, as on real chipsets: guests serialize
  // the address/data pair with a lock of their own (Linux's pci_config_lock).
  std::atomic<std::uint32_t> config_address_{0};
};

}  // namespace nestbox::pci
