// The initial ramdisk: copied into guest RAM as high as the kernel allows
// (setup header initrd_addr_max) and RAM below the PCI hole reaches, page
// aligned, above the kernel's whole footprint; boot_params then points at it.
#pragma once

#include <cstdint>
#include <span>

#include "arch/x86/loaded_kernel.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

// initrd_addr_max for kernels that do not declare one: boot protocols before
// 2.03, and ELF or flat kernels without a setup header (x86-64 Linux's own value).
inline constexpr std::uint64_t kLegacyInitrdAddressMax = 0x37ffffff;
inline constexpr std::uint64_t kDefaultInitrdAddressMax = 0x7fffffff;

struct LoadedInitrd {
  std::uint64_t address;  // guest physical, page aligned
  std::uint64_t size;     // bytes
};

// The highest address the initrd's last byte may occupy for this kernel.
std::uint64_t initrd_address_max(const LoadedKernel& kernel);

// Copies the image into guest RAM. Throws NestboxError (InvalidConfig for an
// empty image, KernelTooLarge when it does not fit) without writing anything.
LoadedInitrd load_initrd(std::span<const std::uint8_t> image, const LoadedKernel& kernel,
                         const GuestMemory& memory);

}  // namespace nestbox::x86
