#include "arch/x86/acpi/aml_resource_template.h"

#include "common/nestbox_error.h"

namespace nestbox::x86::acpi::aml {

namespace {

// Small descriptors: tag byte = (item name << 3) | length.
constexpr std::uint8_t kIrqNoFlagsTag = 0x22;   // IRQ, 2 bytes
constexpr std::uint8_t kIoTag = 0x47;           // I/O port, 7 bytes
constexpr std::uint8_t kFixedIoTag = 0x4b;      // fixed I/O port, 3 bytes
constexpr std::uint8_t kEndTag = 0x79;          // end tag, 1 byte (checksum)
// Large descriptors: tag byte, then a 16-bit length.
constexpr std::uint8_t kMemory32FixedTag = 0x86;

void put16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}
void put32(Bytes& out, std::uint32_t value) {
  put16(out, static_cast<std::uint16_t>(value));
  put16(out, static_cast<std::uint16_t>(value >> 16));
}

}  // namespace

ResourceTemplate& ResourceTemplate::io(std::uint16_t minimum, std::uint16_t maximum,
                                       std::uint8_t alignment, std::uint8_t length) {
  bytes_.push_back(kIoTag);
  bytes_.push_back(0x01);  // decodes 16 address bits
  put16(bytes_, minimum);
  put16(bytes_, maximum);
  bytes_.push_back(alignment);
  bytes_.push_back(length);
  return *this;
}

ResourceTemplate& ResourceTemplate::fixed_io(std::uint16_t base, std::uint8_t length) {
  if (base > 0x3ff) {
    throw NestboxError(ErrorCode::InvalidConfig, "AML: FixedIO decodes 10 bits; use IO above 0x3ff");
  }
  bytes_.push_back(kFixedIoTag);
  put16(bytes_, base);
  bytes_.push_back(length);
  return *this;
}

ResourceTemplate& ResourceTemplate::irq_no_flags(std::uint8_t irq) {
  if (irq > 15) {
    throw NestboxError(ErrorCode::InvalidConfig, "AML: an ISA IRQ is 0-15");
  }
  bytes_.push_back(kIrqNoFlagsTag);
  put16(bytes_, static_cast<std::uint16_t>(1u << irq));
  return *this;
}

ResourceTemplate& ResourceTemplate::memory32_fixed(bool writable, std::uint32_t base,
                                                   std::uint32_t length) {
  bytes_.push_back(kMemory32FixedTag);
  put16(bytes_, 9);  // the descriptor's length after the tag and length fields
  bytes_.push_back(writable ? 0x01 : 0x00);
  put32(bytes_, base);
  put32(bytes_, length);
  return *this;
}

Bytes ResourceTemplate::descriptors() const {
  Bytes out = bytes_;
  out.push_back(kEndTag);
  out.push_back(0x00);
  return out;
}

Bytes ResourceTemplate::buffer() const { return aml::buffer(descriptors()); }

}  // namespace nestbox::x86::acpi::aml
