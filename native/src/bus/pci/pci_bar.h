// Base address registers: what a function declares, and how the root complex
// tells the machine that a BAR started or stopped decoding at an address.
#pragma once

#include <cstdint>
#include <memory>

#include "bus/bus_device.h"
#include "bus/pci/pci_address.h"

namespace nestbox::pci {

enum class PciBarKind { Io, Memory32, Memory64 };

struct PciBarDefinition {
  PciBarKind kind = PciBarKind::Memory32;
  std::uint64_t size = 0;  // power of two: ≥ 16 for memory, ≥ 4 for I/O; 0 = unused
  bool prefetchable = false;
};

// A BAR decoding at `address`: guest accesses to [address, address + size)
// in I/O or memory space belong to `region`, at offsets from `address`.
struct PciBarMapping {
  PciAddress function;
  std::uint8_t bar = 0;
  PciBarKind kind = PciBarKind::Memory32;
  std::uint64_t address = 0;
  std::uint64_t size = 0;
  std::shared_ptr<BusDevice> region;
  friend bool operator==(const PciBarMapping& a, const PciBarMapping& b) {
    return a.function == b.function && a.bar == b.bar && a.kind == b.kind &&
           a.address == b.address && a.size == b.size && a.region == b.region;
  }
};

// Implemented by the machine (or by PciBarSpaces, below the machine). Calls
// come from the vCPU thread doing the config write, with the function's
// config lock held: implementations must not call back into the function.
class PciBarMapper {
 public:
  virtual ~PciBarMapper() = default;
  virtual void map_bar(const PciBarMapping& mapping) = 0;
  virtual void unmap_bar(const PciBarMapping& mapping) = 0;
};

}  // namespace nestbox::pci
