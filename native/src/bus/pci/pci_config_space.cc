#include "bus/pci/pci_config_space.h"

#include "common/nestbox_error.h"

namespace nestbox::pci {

void PciConfigSpace::set_u8(std::uint16_t offset, std::uint8_t value) { bytes_.at(offset) = value; }
void PciConfigSpace::set_u16(std::uint16_t offset, std::uint16_t value) {
  set_u8(offset, static_cast<std::uint8_t>(value));
  set_u8(offset + 1, static_cast<std::uint8_t>(value >> 8));
}
void PciConfigSpace::set_u32(std::uint16_t offset, std::uint32_t value) {
  set_u16(offset, static_cast<std::uint16_t>(value));
  set_u16(offset + 2, static_cast<std::uint16_t>(value >> 16));
}
std::uint8_t PciConfigSpace::u8(std::uint16_t offset) const { return bytes_.at(offset); }
std::uint16_t PciConfigSpace::u16(std::uint16_t offset) const {
  return static_cast<std::uint16_t>(u8(offset) | (u8(offset + 1) << 8));
}
std::uint32_t PciConfigSpace::u32(std::uint16_t offset) const {
  return u16(offset) | (static_cast<std::uint32_t>(u16(offset + 2)) << 16);
}

void PciConfigSpace::set_writable_u8(std::uint16_t offset, std::uint8_t mask) {
  writable_.at(offset) = mask;
}
void PciConfigSpace::set_writable_u16(std::uint16_t offset, std::uint16_t mask) {
  set_writable_u8(offset, static_cast<std::uint8_t>(mask));
  set_writable_u8(offset + 1, static_cast<std::uint8_t>(mask >> 8));
}
void PciConfigSpace::set_writable_u32(std::uint16_t offset, std::uint32_t mask) {
  set_writable_u16(offset, static_cast<std::uint16_t>(mask));
  set_writable_u16(offset + 2, static_cast<std::uint16_t>(mask >> 16));
}

void PciConfigSpace::guest_read(std::uint16_t offset, std::span<std::uint8_t> data) const {
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::size_t at = std::size_t{offset} + i;
    data[i] = at < bytes_.size() ? bytes_[at] : 0;
  }
}

void PciConfigSpace::guest_write(std::uint16_t offset, std::span<const std::uint8_t> data) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::size_t at = std::size_t{offset} + i;
    if (at >= bytes_.size()) {
      return;
    }
    const std::uint8_t mask = writable_[at];
    bytes_[at] = static_cast<std::uint8_t>((bytes_[at] & ~mask) | (data[i] & mask));
  }
}

std::uint8_t PciConfigSpace::add_capability(std::uint8_t id, std::span<const std::uint8_t> body) {
  const std::size_t length = 2 + body.size();
  const std::uint16_t offset = next_capability_;
  if (offset + length > kConfigSpaceSize) {
    throw NestboxError(ErrorCode::InvalidConfig, "PCI capabilities do not fit in config space");
  }
  set_u8(offset, id);
  set_u8(offset + 1, 0);  // end of list until another capability follows
  for (std::size_t i = 0; i < body.size(); ++i) {
    set_u8(static_cast<std::uint16_t>(offset + 2 + i), body[i]);
  }
  if (last_capability_ == 0) {
    set_u8(kCapabilitiesPointer, static_cast<std::uint8_t>(offset));
    set_u16(kStatus, u16(kStatus) | kStatusCapabilitiesList);
  } else {
    set_u8(last_capability_ + 1, static_cast<std::uint8_t>(offset));
  }
  last_capability_ = static_cast<std::uint8_t>(offset);
  next_capability_ = static_cast<std::uint16_t>((offset + length + 3) & ~3u);  // dword aligned
  return static_cast<std::uint8_t>(offset);
}

}  // namespace nestbox::pci
