#include "arch/x86/acpi/dsdt.h"

#include "arch/x86/acpi/acpi_table.h"
#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/aml_resource_template.h"

namespace nestbox::x86::acpi {

namespace {

using aml::Bytes;

Bytes legacy_device(std::string_view name, std::string_view hid, std::uint64_t uid,
                    const aml::ResourceTemplate& resources) {
  return aml::device(name, aml::concat({
                               aml::name("_HID", aml::eisa_id(hid)),
                               aml::name("_UID", aml::integer(uid)),
                               aml::name("_CRS", resources.buffer()),
                           }));
}

}  // namespace

std::vector<std::uint8_t> build_dsdt_aml(const DsdtConfig& config) {
  Bytes system_bus;
  // COM1: the 16550A at 0x3f8, IRQ 4.
  aml::append(system_bus, legacy_device("COM1", "PNP0501", 1,
                                        aml::ResourceTemplate{}.io(0x3f8, 0x3f8, 0x08, 8).irq_no_flags(4)));
  // The CMOS RTC at 0x70, IRQ 8.
  aml::append(system_bus, legacy_device("RTC", "PNP0B00", 0,
                                        aml::ResourceTemplate{}.io(0x70, 0x70, 0x01, 2).irq_no_flags(8)));
  // The 8042 at 0x60/0x64, IRQ 1. No PS/2 mouse (PNP0F13) is listed, which
  // tells Linux's i8042 driver not to probe an AUX port we do not have.
  aml::append(system_bus, legacy_device("KBD", "PNP0303", 0,
                                        aml::ResourceTemplate{}
                                            .io(0x60, 0x60, 0x01, 1)
                                            .io(0x64, 0x64, 0x01, 1)
                                            .irq_no_flags(1)));
  for (const std::vector<std::uint8_t>& terms : config.system_bus_terms) {
    aml::append(system_bus, terms);
  }
  // \_S5: {PM1a SLP_TYP, PM1b SLP_TYP, reserved, reserved}.
  const Bytes s5 = aml::name("\\_S5", aml::package({aml::integer(config.s5_sleep_type),
                                                    aml::integer(config.s5_sleep_type),
                                                    aml::integer(0), aml::integer(0)}));
  return aml::concat({s5, aml::scope("\\_SB", system_bus)});
}

std::vector<std::uint8_t> build_dsdt(const DsdtConfig& config) {
  const std::vector<std::uint8_t> body = build_dsdt_aml(config);
  return make_table("DSDT", kDsdtRevision, body);
}

}  // namespace nestbox::x86::acpi
