// The roots a guest starts from: the RSDP (found by the legacy scan or
// boot_params.acpi_rsdp_addr) points at the XSDT, which lists every other
// table except the DSDT and FACS (the FADT points at those).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nestbox::x86::acpi {

inline constexpr std::size_t kRsdpLength = 36;
inline constexpr std::size_t kRsdpChecksumLength = 20;  // the ACPI 1.0 part
inline constexpr std::uint8_t kRsdpRevision = 2;        // ACPI 2.0+: has the XSDT address
inline constexpr std::uint8_t kXsdtRevision = 1;

// RSDT address 0: ACPI 2.0+ guests use the XSDT.
std::vector<std::uint8_t> build_rsdp(std::uint64_t xsdt_address);
std::vector<std::uint8_t> build_xsdt(std::span<const std::uint64_t> table_addresses);

}  // namespace nestbox::x86::acpi
