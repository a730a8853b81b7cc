// Where the ACPI tables live in guest physical memory, and the fixed platform
// addresses they describe. The tables go in 0xe0000-0xfffff: the legacy BIOS
// area, which e820 reports reserved (arch/x86/e820.cc reserves 0x9fc00-1 MiB)
// and which holds nothing else we build; the RSDP must be there anyway for
// guests that find it by scanning rather than from boot_params.acpi_rsdp_addr.
#pragma once

#include <cstdint>

namespace nestbox::x86::acpi {

inline constexpr std::uint64_t kAcpiRegionStart = 0xe0000;
inline constexpr std::uint64_t kAcpiRegionEnd = 0x100000;  // exclusive
// First in the region: 16-byte aligned, as the legacy scan requires.
inline constexpr std::uint64_t kRsdpAddress = kAcpiRegionStart;

inline constexpr std::uint32_t kLocalApicAddress = 0xfee0'0000;
inline constexpr std::uint32_t kIoApicAddress = 0xfec0'0000;
inline constexpr std::uint32_t kIoApicGsiBase = 0;
// The SCI's ISA IRQ and GSI (identity-mapped, level, active high).
inline constexpr std::uint8_t kSciIrq = 9;

}  // namespace nestbox::x86::acpi
