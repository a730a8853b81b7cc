// The DSDT: \_S5 (the soft-off sleep type the ACPI PM block acts on) and the
// legacy devices under \_SB so the guest's PNP layer finds their ports and
// IRQs. The power button is fixed-feature and needs no device here.
#pragma once

#include <cstdint>
#include <vector>

namespace nestbox::x86::acpi {

inline constexpr std::uint8_t kDsdtRevision = 2;  // 64-bit AML integers

struct DsdtConfig {
  std::uint8_t s5_sleep_type;
  // Extension point: complete AML terms (Device(...), Scope(...)) placed
  // inside \_SB after the legacy devices, e.g. PCI0 with its _PRT.
  std::vector<std::vector<std::uint8_t>> system_bus_terms;
};

// The AML body of the DSDT (without its table header).
std::vector<std::uint8_t> build_dsdt_aml(const DsdtConfig& config);
std::vector<std::uint8_t> build_dsdt(const DsdtConfig& config);

}  // namespace nestbox::x86::acpi
