#include "bus/pci/mcfg.h"

#include "arch/x86/acpi/acpi_table.h"
#include "common/nestbox_error.h"

namespace nestbox::pci {

std::vector<std::uint8_t> build_mcfg(std::uint64_t ecam_base, std::uint16_t segment,
                                     std::uint8_t first_bus, std::uint8_t last_bus) {
  if (last_bus < first_bus || ecam_base % (1 << 20) != 0) {
    throw NestboxError(ErrorCode::InvalidConfig, "invalid ECAM window for the MCFG");
  }
  x86::acpi::ByteWriter body;
  body.zeros(8);  // reserved
  // One configuration space base address allocation structure. Its base is
  // the address of bus 0 even when the range starts later (spec 4.1.2).
  body.u64(ecam_base);
  body.u16(segment);
  body.u8(first_bus);
  body.u8(last_bus);
  body.u32(0);  // reserved
  const std::vector<std::uint8_t> bytes = body.take();
  return x86::acpi::make_table("MCFG", kMcfgRevision, bytes);
}

}  // namespace nestbox::pci
