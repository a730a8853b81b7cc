// One function's configuration space (4 KiB: 256 bytes conventional plus the
// PCIe extended part reachable through ECAM) and, per byte, which bits the
// guest may change. Guest writes go through the mask, so read-only fields
// (IDs, class, capability links, BAR size bits) stay read-only by
// construction; BAR sizing (write all ones, read back the mask) falls out of
// the same rule.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "bus/pci/pci_abi.h"

namespace nestbox::pci {

class PciConfigSpace {
 public:
  // Device-side setup: raw stores that ignore the guest masks.
  void set_u8(std::uint16_t offset, std::uint8_t value);
  void set_u16(std::uint16_t offset, std::uint16_t value);
  void set_u32(std::uint16_t offset, std::uint32_t value);
  [[nodiscard]] std::uint8_t u8(std::uint16_t offset) const;
  [[nodiscard]] std::uint16_t u16(std::uint16_t offset) const;
  [[nodiscard]] std::uint32_t u32(std::uint16_t offset) const;

  // Which bits of these bytes the guest may write.
  void set_writable_u8(std::uint16_t offset, std::uint8_t mask);
  void set_writable_u16(std::uint16_t offset, std::uint16_t mask);
  void set_writable_u32(std::uint16_t offset, std::uint32_t mask);

  // Guest access of any width at any offset; bytes past 4 KiB read as zero
  // and ignore writes.
  void guest_read(std::uint16_t offset, std::span<std::uint8_t> data) const;
  void guest_write(std::uint16_t offset, std::span<const std::uint8_t> data);

  // Appends a capability to the list (in the conventional 256 bytes): `body`
  // is everything after the ID and next-pointer bytes. Returns its offset.
  // Throws NestboxError (InvalidConfig) when it does not fit.
  std::uint8_t add_capability(std::uint8_t id, std::span<const std::uint8_t> body);

  [[nodiscard]] const std::array<std::uint8_t, kExtendedConfigSpaceSize>& bytes() const {
    return bytes_;
  }
  void restore_bytes(const std::array<std::uint8_t, kExtendedConfigSpaceSize>& bytes) {
    bytes_ = bytes;
  }

 private:
  std::array<std::uint8_t, kExtendedConfigSpaceSize> bytes_{};
  std::array<std::uint8_t, kExtendedConfigSpaceSize> writable_{};
  std::uint16_t next_capability_ = kFirstCapabilityOffset;
  std::uint8_t last_capability_ = 0;
};

}  // namespace nestbox::pci
