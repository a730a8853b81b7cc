#include "arch/x86/acpi/madt.h"

#include <algorithm>

#include "arch/x86/acpi/acpi_layout.h"
#include "arch/x86/acpi/acpi_table.h"

namespace nestbox::x86::acpi {

std::uint8_t io_apic_id(std::span<const std::uint8_t> apic_ids) {
  return static_cast<std::uint8_t>(*std::max_element(apic_ids.begin(), apic_ids.end()) + 1);
}

std::vector<std::uint8_t> build_madt(const MadtConfig& config) {
  ByteWriter body;
  body.u32(kLocalApicAddress);
  body.u32(kMadtPcatCompat);
  for (std::size_t i = 0; i < config.apic_ids.size(); ++i) {
    body.u8(kMadtLocalApic);
    body.u8(8);
    body.u8(static_cast<std::uint8_t>(i));  // ACPI processor UID
    body.u8(config.apic_ids[i]);
    body.u32(1);  // enabled
  }
  body.u8(kMadtIoApic);
  body.u8(12);
  body.u8(io_apic_id(config.apic_ids));
  body.u8(0);
  body.u32(kIoApicAddress);
  body.u32(kIoApicGsiBase);
  // The PIT's IRQ 0 is wired to IOAPIC pin 2 on a PC (pin 0 is the 8259's INTR).
  body.u8(kMadtInterruptOverride);
  body.u8(10);
  body.u8(0);  // ISA bus
  body.u8(0);
  body.u32(2);
  body.u16(kMpsActiveHigh | kMpsEdge);
  // The SCI is level-triggered, unlike every other ISA IRQ.
  body.u8(kMadtInterruptOverride);
  body.u8(10);
  body.u8(0);
  body.u8(config.sci_irq);
  body.u32(config.sci_irq);
  body.u16(kMpsActiveHigh | kMpsLevel);
  // Every CPU's LINT1 carries NMI, as the PC wires it.
  body.u8(kMadtLocalApicNmi);
  body.u8(6);
  body.u8(0xff);  // all processors
  body.u16(kMpsActiveHigh | kMpsEdge);
  body.u8(1);  // LINT1
  const std::vector<std::uint8_t> bytes = body.take();
  return make_table("APIC", kMadtRevision, bytes);
}

}  // namespace nestbox::x86::acpi
