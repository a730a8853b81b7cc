#include "arch/x86/acpi/root_tables.h"

#include "arch/x86/acpi/acpi_table.h"

namespace nestbox::x86::acpi {

std::vector<std::uint8_t> build_rsdp(std::uint64_t xsdt_address) {
  ByteWriter out;
  out.text("RSD PTR ", 8);
  out.u8(0);  // checksum of the first 20 bytes, set below
  out.text(kOemId, 6);
  out.u8(kRsdpRevision);
  out.u32(0);  // RsdtAddress
  out.u32(kRsdpLength);
  out.u64(xsdt_address);
  out.u8(0);  // extended checksum of all 36 bytes, set below
  out.zeros(3);
  std::vector<std::uint8_t> rsdp = out.take();
  set_checksum(std::span(rsdp).first(kRsdpChecksumLength), 8);
  set_checksum(rsdp, 32);
  return rsdp;
}

std::vector<std::uint8_t> build_xsdt(std::span<const std::uint64_t> table_addresses) {
  ByteWriter body;
  for (std::uint64_t address : table_addresses) {
    body.u64(address);
  }
  const std::vector<std::uint8_t> bytes = body.take();
  return make_table("XSDT", kXsdtRevision, bytes);
}

}  // namespace nestbox::x86::acpi
