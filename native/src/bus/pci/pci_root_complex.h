// The PCI root complex: bus 0 with the host bridge at 00:00.0 and up to 31
// single-function devices, reached through configuration accesses
// (PciConfigPorts at 0xcf8, PciEcam in the PCI hole). Absent functions read as
// all ones (vendor 0xffff, which is how an OS learns a slot is empty) and
// ignore writes.
//
// Setup (add_device, assign_resources) happens before vCPUs run; afterwards
// the device table is read without locking and each function locks itself.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "bus/pci/pci_address.h"
#include "bus/pci/pci_bar.h"
#include "bus/pci/pci_bar_allocator.h"
#include "bus/pci/pci_function.h"
#include "bus/pci/pci_intx.h"
#include "devices/interrupt_line.h"

namespace nestbox::pci {

// One _PRT entry: device `device`'s pin (0 = INTA#) drives `gsi`.
struct PciInterruptRoute {
  std::uint8_t device;
  std::uint8_t pin;
  std::uint32_t gsi;
};

class PciRootComplex {
 public:
  // `mapper` must outlive the root complex. `intx_gsi_lines[i]` is the
  // machine's line for GSI kIntxFirstGsi + i (may be null in tests).
  PciRootComplex(PciBarMapper& mapper,
                 std::array<std::shared_ptr<InterruptLine>, kIntxLineCount> intx_gsi_lines);

  // Plugs `function` in as device `device` (1-31), function 0. Throws
  // NestboxError (InvalidConfig) for a taken or invalid slot.
  void add_device(std::uint8_t device, std::shared_ptr<PciFunction> function);
  [[nodiscard]] std::shared_ptr<PciFunction> function(PciAddress address) const;

  // Firmware's job, done by the VMM: place every BAR of every function,
  // enable decoding, and fill in each interrupt line register with its GSI.
  void assign_resources(PciBarAllocator& allocator);

  // Configuration accesses; `offset` + size must stay inside 4 KiB.
  void config_read(PciAddress address, std::uint16_t offset, std::span<std::uint8_t> data) const;
  void config_write(PciAddress address, std::uint16_t offset, std::span<const std::uint8_t> data);

  // The INTx table for the DSDT's _PRT: every slot, every pin.
  [[nodiscard]] std::vector<PciInterruptRoute> interrupt_routes() const;

 private:
  PciBarMapper& mapper_;
  std::array<std::shared_ptr<WiredOrInterruptLine>, kIntxLineCount> intx_wires_;
  std::array<std::shared_ptr<PciFunction>, kDevicesPerBus> devices_;
};

}  // namespace nestbox::pci
