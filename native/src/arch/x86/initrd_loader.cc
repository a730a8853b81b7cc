#include "arch/x86/initrd_loader.h"

#include <algorithm>
#include <string>

#include "arch/x86/memory_layout.h"
#include "common/hex.h"
#include "common/nestbox_error.h"

namespace nestbox::x86 {

namespace {

constexpr std::uint64_t kPageSize = 4096;

constexpr std::uint64_t align_down(std::uint64_t value) { return value & ~(kPageSize - 1); }

// Size in MiB, rounded up, for messages.
std::string mib_text(std::uint64_t bytes) {
  return std::to_string((bytes + layout::kMiB - 1) / layout::kMiB) + " MiB";
}

}  // namespace

std::uint64_t initrd_address_max(const LoadedKernel& kernel) {
  if (!kernel.linux_setup_header) {
    return kDefaultInitrdAddressMax;
  }
  const setup_header& header = *kernel.linux_setup_header;
  // Protocol 2.03 introduced the field; a zero there is treated as "not declared".
  if (header.version < 0x0203 || header.initrd_addr_max == 0) {
    return kLegacyInitrdAddressMax;
  }
  return header.initrd_addr_max;
}

LoadedInitrd load_initrd(std::span<const std::uint8_t> image, const LoadedKernel& kernel,
                         const GuestMemory& memory) {
  if (image.empty()) {
    throw NestboxError(ErrorCode::InvalidConfig, "the initrd is empty");
  }
  if (memory.regions().empty() || memory.regions().front().guest_address != 0) {
    throw NestboxError(ErrorCode::InvalidConfig, "guest RAM must start at address 0");
  }

  // One past the highest byte the initrd may use: the kernel's limit, the end
  // of the RAM that starts at 0, and the PCI hole, whichever comes first.
  const GuestRamRegion& low_ram = memory.regions().front();
  const std::uint64_t ceiling =
      std::min({initrd_address_max(kernel) + 1, low_ram.size, layout::kPciHoleStart});
  // Never below 1 MiB (the VMM's boot structures, the BIOS area) nor inside the
  // kernel's footprint, which includes the room it decompresses into.
  const std::uint64_t floor =
      std::max(layout::kHighMemoryAddress, (kernel.load_end + kPageSize - 1) & ~(kPageSize - 1));

  const std::uint64_t size = image.size();
  if (ceiling <= floor || size > ceiling - floor || align_down(ceiling - size) < floor) {
    throw NestboxError(ErrorCode::KernelTooLarge,
                       "initrd (" + mib_text(size) + ") does not fit below " + to_hex(ceiling) +
                           " with " + std::to_string(memory.total_size() >> 20) +
                           " MiB of RAM (the kernel uses up to " + to_hex(kernel.load_end) +
                           "); give the machine more memory");
  }
  const std::uint64_t address = align_down(ceiling - size);
  memory.write(address, image);
  return LoadedInitrd{address, size};
}

}  // namespace nestbox::x86
