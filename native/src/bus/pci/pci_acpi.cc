#include "bus/pci/pci_acpi.h"

#include "arch/x86/acpi/aml.h"
#include "arch/x86/acpi/aml_resource_template.h"
#include "common/nestbox_error.h"

namespace nestbox::pci {

namespace aml = x86::acpi::aml;

namespace {

// Large resource items (ACPI 6.x, 6.4.3.5): address space descriptors.
constexpr std::uint8_t kWordAddressSpaceTag = 0x88;
constexpr std::uint8_t kDWordAddressSpaceTag = 0x87;
constexpr std::uint8_t kIoDescriptorTag = 0x47;  // small item, 7 bytes
constexpr std::uint8_t kEndTag = 0x79;
constexpr std::uint8_t kResourceMemory = 0;
constexpr std::uint8_t kResourceIo = 1;
constexpr std::uint8_t kResourceBusNumber = 2;
// General flags: the bridge produces the range (bit 0 clear), positive
// decode, minimum and maximum fixed (bits 2 and 3).
constexpr std::uint8_t kProducerFixedRange = 0x0c;
constexpr std::uint8_t kIoEntireRange = 0x03;          // ISA and non-ISA ranges
constexpr std::uint8_t kMemoryReadWriteUncached = 0x01;

void put16(aml::Bytes& out, std::uint64_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}
void put32(aml::Bytes& out, std::uint64_t value) {
  put16(out, value);
  put16(out, value >> 16);
}

void word_address_space(aml::Bytes& out, std::uint8_t type, std::uint8_t type_flags,
                        std::uint64_t minimum, std::uint64_t length) {
  out.push_back(kWordAddressSpaceTag);
  put16(out, 13);  // bytes after the length field
  out.push_back(type);
  out.push_back(kProducerFixedRange);
  out.push_back(type_flags);
  put16(out, 0);                     // granularity
  put16(out, minimum);
  put16(out, minimum + length - 1);  // maximum
  put16(out, 0);                     // translation offset
  put16(out, length);
}

void dword_address_space(aml::Bytes& out, std::uint8_t type, std::uint8_t type_flags,
                         std::uint64_t minimum, std::uint64_t length) {
  out.push_back(kDWordAddressSpaceTag);
  put16(out, 23);
  out.push_back(type);
  out.push_back(kProducerFixedRange);
  out.push_back(type_flags);
  put32(out, 0);
  put32(out, minimum);
  put32(out, minimum + length - 1);
  put32(out, 0);
  put32(out, length);
}

}  // namespace

std::vector<std::uint8_t> build_pci_root_resources(const PciAcpiConfig& config) {
  if (config.last_bus < config.first_bus || config.io_window_size == 0 ||
      config.io_window_base + config.io_window_size > 0x10000 || config.mmio_window_size == 0 ||
      config.mmio_window_base + config.mmio_window_size > (1ull << 32)) {
    throw NestboxError(ErrorCode::InvalidConfig, "PCI windows do not fit their ACPI descriptors");
  }
  aml::Bytes out;
  word_address_space(out, kResourceBusNumber, 0, config.first_bus,
                     config.last_bus - config.first_bus + 1u);
  // IO(Decode16, 0xcf8, 0xcf8, 1, 8): the config ports, consumed by the bridge.
  out.push_back(kIoDescriptorTag);
  out.push_back(0x01);  // 16-bit decode
  put16(out, 0xcf8);
  put16(out, 0xcf8);
  out.push_back(1);
  out.push_back(8);
  word_address_space(out, kResourceIo, kIoEntireRange, config.io_window_base,
                     config.io_window_size);
  dword_address_space(out, kResourceMemory, kMemoryReadWriteUncached, config.mmio_window_base,
                      config.mmio_window_size);
  out.push_back(kEndTag);
  out.push_back(0);  // checksum 0: "valid"
  return out;
}

std::vector<std::uint8_t> build_pci_acpi_terms(const PciAcpiConfig& config,
                                               std::span<const PciInterruptRoute> routes) {
  std::vector<aml::Bytes> prt;
  for (const PciInterruptRoute& route : routes) {
    // Package { address (device << 16 | 0xffff: any function), pin, source
    // (Zero: the last field is a GSI, not a link device), GSI }
    prt.push_back(aml::package({aml::integer((std::uint64_t{route.device} << 16) | 0xffff),
                                aml::integer(route.pin), aml::integer(0),
                                aml::integer(route.gsi)}));
  }
  const aml::Bytes pci0 = aml::device(
      "PCI0", aml::concat({
                  aml::name("_HID", aml::eisa_id("PNP0A08")),
                  aml::name("_CID", aml::eisa_id("PNP0A03")),
                  aml::name("_SEG", aml::integer(config.segment)),
                  aml::name("_BBN", aml::integer(config.first_bus)),
                  aml::name("_UID", aml::integer(0)),
                  aml::name("_CRS", aml::buffer(build_pci_root_resources(config))),
                  aml::name("_PRT", aml::package(prt)),
              }));
  if (config.ecam_base + config.ecam_size > (1ull << 32) || config.ecam_size > 0xffff'ffffull) {
    throw NestboxError(ErrorCode::InvalidConfig, "ECAM window must lie below 4 GiB");
  }
  const aml::Bytes motherboard = aml::device(
      "PCIM", aml::concat({
                  aml::name("_HID", aml::eisa_id("PNP0C02")),
                  aml::name("_UID", aml::integer(1)),
                  aml::name("_CRS", aml::ResourceTemplate{}
                                        .memory32_fixed(true,
                                                        static_cast<std::uint32_t>(config.ecam_base),
                                                        static_cast<std::uint32_t>(config.ecam_size))
                                        .buffer()),
              }));
  return aml::concat({pci0, motherboard});
}

}  // namespace nestbox::pci
