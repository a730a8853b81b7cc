#include "bus/pci/pci_bar_allocator.h"

#include <algorithm>

#include "common/nestbox_error.h"

namespace nestbox::pci {

namespace {
constexpr std::uint64_t kMinimumMemoryAlignment = 4096;
}

PciBarAllocator::PciBarAllocator(std::uint64_t mmio_base, std::uint64_t mmio_size,
                                 std::uint64_t io_base, std::uint64_t io_size)
    : mmio_{mmio_base, mmio_base + mmio_size}, io_{io_base, io_base + io_size} {}

std::uint64_t PciBarAllocator::take(Window& window, std::uint64_t size, std::uint64_t alignment) {
  const std::uint64_t start = (window.next + alignment - 1) & ~(alignment - 1);
  if (size == 0 || start < window.next || start > window.end || size > window.end - start) {
    throw NestboxError(ErrorCode::InvalidConfig, "PCI BAR window is full");
  }
  window.next = start + size;
  return start;
}

std::uint64_t PciBarAllocator::allocate(PciBarKind kind, std::uint64_t size) {
  if (kind == PciBarKind::Io) {
    return take(io_, size, size);
  }
  return take(mmio_, size, std::max(size, kMinimumMemoryAlignment));
}

}  // namespace nestbox::pci
