// Builds the whole ACPI table set for a machine and writes it into guest RAM
// at 0xe0000-0xfffff (acpi_layout.h): RSDP, XSDT, FADT, FACS, DSDT, MADT and
// any extra tables a later device adds (MCFG, ...).
//
// Machine wiring: after guest RAM exists and before vCPUs run,
//   const AcpiLayout acpi = write_acpi_tables(memory, platform);
// and put acpi.rsdp_address in boot_params.acpi_rsdp_addr (the RSDP is also
// findable by the legacy scan of 0xe0000-0xfffff).
#pragma once

#include <cstdint>
#include <vector>

#include "devices/acpi_pm/acpi_pm_registers.h"
#include "arch/x86/acpi/acpi_layout.h"
#include "memory/guest_memory.h"

namespace nestbox::x86::acpi {

struct AcpiPlatform {
  std::uint32_t cpu_count = 1;
  // xAPIC IDs of the vCPUs in order; empty means 0..cpu_count-1. Each below
  // kMaxApicId and unique; the IOAPIC takes the next ID after the highest.
  std::vector<std::uint8_t> apic_ids;
  std::uint16_t pm_base = acpi_pm::kDefaultBasePort;  // where the AcpiPmBlock is attached
  std::uint8_t sci_irq = kSciIrq;
  bool vga_present = false;
  // AML terms for inside \_SB (e.g. Device(PCI0) with _PRT), after COM1/RTC/KBD.
  std::vector<std::vector<std::uint8_t>> system_bus_terms;
  // Complete tables (header + body; the writer sets the checksum) linked from
  // the XSDT after the FADT and MADT, e.g. an MCFG.
  std::vector<std::vector<std::uint8_t>> extra_tables;
};

struct AcpiLayout {
  std::uint64_t rsdp_address = 0;
  std::uint64_t xsdt_address = 0;
  std::uint64_t fadt_address = 0;
  std::uint64_t facs_address = 0;
  std::uint64_t dsdt_address = 0;
  std::uint64_t madt_address = 0;
  std::vector<std::uint64_t> extra_table_addresses;
  std::uint64_t end_address = 0;  // first byte after the last table
};

// Throws NestboxError (InvalidConfig) for a platform the tables cannot
// describe, or when they would not fit the region, and (GuestMemory) when the
// region is not guest RAM.
AcpiLayout write_acpi_tables(const GuestMemory& memory, const AcpiPlatform& platform);

}  // namespace nestbox::x86::acpi
