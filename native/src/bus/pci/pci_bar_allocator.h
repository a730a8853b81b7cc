// Places BARs the way firmware would before the OS runs (we boot kernels
// directly, with no BIOS to do it): each BAR naturally aligned inside its
// window, memory BARs on at least a 4 KiB boundary so no two functions share
// a page (KVM slots and ioeventfds work per page-aligned range).
#pragma once

#include <cstdint>

#include "bus/pci/pci_bar.h"
#include "bus/pci/pci_layout.h"

namespace nestbox::pci {

class PciBarAllocator {
 public:
  PciBarAllocator(std::uint64_t mmio_base = kMmioWindowBase,
                  std::uint64_t mmio_size = kMmioWindowSize,
                  std::uint64_t io_base = kIoWindowBase, std::uint64_t io_size = kIoWindowSize);

  // Throws NestboxError (InvalidConfig) when the window is full.
  std::uint64_t allocate(PciBarKind kind, std::uint64_t size);

 private:
  struct Window {
    std::uint64_t next;
    std::uint64_t end;
  };
  static std::uint64_t take(Window& window, std::uint64_t size, std::uint64_t alignment);

  Window mmio_;
  Window io_;
};

}  // namespace nestbox::pci
