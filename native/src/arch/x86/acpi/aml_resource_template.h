// Builds the Buffer behind a ResourceTemplate() (ACPI 6.x, section 6.4): the
// _CRS of a device, from small and large resource descriptors, closed by an
// End Tag.
#pragma once

#include <cstdint>

#include "arch/x86/acpi/aml.h"

namespace nestbox::x86::acpi::aml {

class ResourceTemplate {
 public:
  // IO(Decode16, min, max, alignment, length)
  ResourceTemplate& io(std::uint16_t minimum, std::uint16_t maximum, std::uint8_t alignment,
                       std::uint8_t length);
  // FixedIO(base, length): 10-bit decode, base <= 0x3ff.
  ResourceTemplate& fixed_io(std::uint16_t base, std::uint8_t length);
  // IRQNoFlags(){irq}: ISA, edge-triggered, active high. irq < 16.
  ResourceTemplate& irq_no_flags(std::uint8_t irq);
  // Memory32Fixed(ReadWrite or ReadOnly, base, length)
  ResourceTemplate& memory32_fixed(bool writable, std::uint32_t base, std::uint32_t length);

  // The descriptors and End Tag (checksum 0: "the template is valid").
  [[nodiscard]] Bytes descriptors() const;
  // The AML Buffer object holding them, for Name(_CRS, ...).
  [[nodiscard]] Bytes buffer() const;

 private:
  Bytes bytes_;
};

}  // namespace nestbox::x86::acpi::aml
