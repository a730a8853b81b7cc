#include "arch/x86/lapic.h"

#include <cstring>

namespace nestbox::x86::lapic {

std::uint32_t read_register(std::span<const std::uint8_t, kRegisterPageSize> page,
                            std::uint32_t offset) {
  std::uint32_t value;
  std::memcpy(&value, page.data() + offset, sizeof value);
  return value;
}

void write_register(std::span<std::uint8_t, kRegisterPageSize> page, std::uint32_t offset,
                    std::uint32_t value) {
  std::memcpy(page.data() + offset, &value, sizeof value);
}

void program_boot_cpu_lints(std::span<std::uint8_t, kRegisterPageSize> page) {
  const auto lvt = [&](std::uint32_t offset, std::uint32_t mode) {
    const std::uint32_t old = read_register(page, offset);
    write_register(page, offset, (old & ~(kDeliveryModeMask | kLvtMasked | 0xffu)) | mode);
  };
  lvt(kLvtLint0, kDeliveryModeExtInt);
  lvt(kLvtLint1, kDeliveryModeNmi);
}

}  // namespace nestbox::x86::lapic
