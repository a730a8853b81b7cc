#include "bus/pci/pci_function.h"

#include <bit>

#include "common/nestbox_error.h"

namespace nestbox::pci {

namespace {

constexpr std::uint16_t bar_offset(std::uint8_t index) {
  return static_cast<std::uint16_t>(kBar0 + 4 * index);
}

bool ranges_overlap(std::uint16_t a, std::size_t a_size, std::uint16_t b, std::size_t b_size) {
  return a < b + b_size && b < a + a_size;
}

}  // namespace

PciFunction::PciFunction(const PciIdentity& identity) : interrupt_pin_(identity.interrupt_pin) {
  config_.set_u16(kVendorId, identity.vendor_id);
  config_.set_u16(kDeviceId, identity.device_id);
  config_.set_u8(kRevisionId, identity.revision);
  config_.set_u8(kClassCode, static_cast<std::uint8_t>(identity.class_code));
  config_.set_u8(kClassCode + 1, static_cast<std::uint8_t>(identity.class_code >> 8));
  config_.set_u8(kClassCode + 2, static_cast<std::uint8_t>(identity.class_code >> 16));
  config_.set_u8(kHeaderType, kHeaderTypeNormal);
  config_.set_u16(kSubsystemVendorId, identity.subsystem_vendor_id);
  config_.set_u16(kSubsystemId, identity.subsystem_id);
  config_.set_u8(kInterruptPin, identity.interrupt_pin);
  // Decode enables, bus mastering, error reporting enables and INTx disable
  // are the writable command bits (PCI 3.0, 6.2.2); the rest are hardwired 0.
  config_.set_writable_u16(kCommand, kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster |
                                         kCommandParityError | kCommandSerr |
                                         (identity.interrupt_pin != kInterruptPinNone
                                              ? kCommandIntxDisable
                                              : 0));
  config_.set_writable_u8(kCacheLineSize, 0xff);  // Linux programs it; we ignore it
  config_.set_writable_u8(kInterruptLine, 0xff);  // scratch register for the OS
}

void PciFunction::define_bar(std::uint8_t index, const PciBarDefinition& definition) {
  const bool is64 = definition.kind == PciBarKind::Memory64;
  const std::uint64_t minimum = definition.kind == PciBarKind::Io ? 4 : 16;
  if (index >= kBarCount || (is64 && index + 1 >= kBarCount) || definition.size < minimum ||
      !std::has_single_bit(definition.size) ||
      (definition.kind != PciBarKind::Memory64 && definition.size > (1ull << 31)) ||
      (definition.kind == PciBarKind::Io && definition.size > 256)) {
    throw NestboxError(ErrorCode::InvalidConfig, "invalid PCI BAR definition");
  }
  bars_[index] = definition;
  const std::uint64_t address_mask = ~(definition.size - 1);
  switch (definition.kind) {
    case PciBarKind::Io:
      config_.set_u32(bar_offset(index), kBarIoSpace);
      config_.set_writable_u32(bar_offset(index), static_cast<std::uint32_t>(address_mask) & ~0x3u);
      break;
    case PciBarKind::Memory32:
      config_.set_u32(bar_offset(index), definition.prefetchable ? kBarPrefetchable : 0);
      config_.set_writable_u32(bar_offset(index), static_cast<std::uint32_t>(address_mask) & ~0xfu);
      break;
    case PciBarKind::Memory64:
      config_.set_u32(bar_offset(index),
                      kBarMemoryType64 | (definition.prefetchable ? kBarPrefetchable : 0));
      config_.set_writable_u32(bar_offset(index), static_cast<std::uint32_t>(address_mask) & ~0xfu);
      config_.set_u32(bar_offset(index + 1), 0);
      config_.set_writable_u32(bar_offset(index + 1), static_cast<std::uint32_t>(address_mask >> 32));
      break;
  }
}

void PciFunction::connect(PciAddress address, PciBarMapper* mapper,
                          std::shared_ptr<InterruptLine> intx) {
  {
    const std::lock_guard lock(config_mutex_);
    address_ = address;
    mapper_ = mapper;
  }
  const std::lock_guard lock(intx_mutex_);
  intx_line_ = std::move(intx);
}

const PciBarDefinition& PciFunction::bar_definition(std::uint8_t index) const {
  return bars_.at(index);
}

std::uint64_t PciFunction::bar_address(std::uint8_t index) const {
  const std::lock_guard lock(config_mutex_);
  const PciBarDefinition& bar = bars_.at(index);
  const std::uint32_t low = config_.u32(bar_offset(index));
  switch (bar.kind) {
    case PciBarKind::Io: return low & ~0x3u;
    case PciBarKind::Memory32: return low & ~0xfu;
    case PciBarKind::Memory64:
      return (low & ~0xfull) | (static_cast<std::uint64_t>(config_.u32(bar_offset(index + 1))) << 32);
  }
  return 0;
}

std::optional<PciBarMapping> PciFunction::bar_mapping(std::uint8_t index) const {
  const std::lock_guard lock(config_mutex_);
  return mapped_.at(index);
}

void PciFunction::program_bar(std::uint8_t index, std::uint64_t address) {
  const std::lock_guard lock(config_mutex_);
  const PciBarDefinition& bar = bars_.at(index);
  if (bar.size == 0 || address % bar.size != 0) {
    throw NestboxError(ErrorCode::InvalidConfig, "PCI BAR address is not aligned to its size");
  }
  const std::uint32_t type_bits = config_.u32(bar_offset(index)) & (bar.kind == PciBarKind::Io ? 0x3u : 0xfu);
  config_.set_u32(bar_offset(index), static_cast<std::uint32_t>(address) | type_bits);
  if (bar.kind == PciBarKind::Memory64) {
    config_.set_u32(bar_offset(index + 1), static_cast<std::uint32_t>(address >> 32));
  }
  update_bar_mappings();
}

void PciFunction::enable_decoding() {
  const std::lock_guard lock(config_mutex_);
  config_.set_u16(kCommand, config_.u16(kCommand) | kCommandIoSpace | kCommandMemorySpace);
  update_bar_mappings();
}

void PciFunction::set_interrupt_line_register(std::uint8_t line) {
  const std::lock_guard lock(config_mutex_);
  config_.set_u8(kInterruptLine, line);
}

void PciFunction::config_read(std::uint16_t offset, std::span<std::uint8_t> data) {
  const std::lock_guard lock(config_mutex_);
  config_.guest_read(offset, data);
  // Status bit 3 mirrors the INTx level (PCI 3.0, 6.2.3), whatever thread set it.
  if (ranges_overlap(offset, data.size(), kStatus, 1)) {
    const std::lock_guard intx_lock(intx_mutex_);
    if (intx_level_) data[kStatus - offset] |= kStatusInterrupt;
  }
  after_config_read(offset, data);
}

void PciFunction::config_write(std::uint16_t offset, std::span<const std::uint8_t> data) {
  const std::lock_guard lock(config_mutex_);
  config_.guest_write(offset, data);
  if (ranges_overlap(offset, data.size(), kCommand, 2)) {
    update_intx_disable();
  }
  if (ranges_overlap(offset, data.size(), kCommand, 2) ||
      ranges_overlap(offset, data.size(), kBar0, 4 * kBarCount)) {
    update_bar_mappings();
  }
  after_config_write(offset, data.size());
}

std::optional<PciBarMapping> PciFunction::desired_mapping(std::uint8_t index) {
  const PciBarDefinition& bar = bars_[index];
  if (bar.size == 0) return std::nullopt;
  const std::uint16_t command = config_.u16(kCommand);
  const bool decoding = bar.kind == PciBarKind::Io ? (command & kCommandIoSpace) != 0
                                                   : (command & kCommandMemorySpace) != 0;
  if (!decoding) return std::nullopt;
  const std::uint32_t low = config_.u32(bar_offset(index));
  std::uint64_t address = bar.kind == PciBarKind::Io ? (low & ~0x3u) : (low & ~0xfu);
  if (bar.kind == PciBarKind::Memory64) {
    address |= static_cast<std::uint64_t>(config_.u32(bar_offset(index + 1))) << 32;
  }
  if (address == 0 || address + bar.size < address) return std::nullopt;
  if (!regions_[index]) regions_[index] = bar_region(index);
  if (!regions_[index]) return std::nullopt;
  return PciBarMapping{address_, index, bar.kind, address, bar.size, regions_[index]};
}

void PciFunction::update_bar_mappings() {
  for (std::uint8_t index = 0; index < kBarCount; ++index) {
    std::optional<PciBarMapping> desired = desired_mapping(index);
    if (desired == mapped_[index]) continue;
    if (mapped_[index] && mapper_ != nullptr) mapper_->unmap_bar(*mapped_[index]);
    mapped_[index] = std::move(desired);
    if (mapped_[index] && mapper_ != nullptr) mapper_->map_bar(*mapped_[index]);
  }
}

void PciFunction::update_intx_disable() {
  const bool disabled = (config_.u16(kCommand) & kCommandIntxDisable) != 0;
  const std::lock_guard intx_lock(intx_mutex_);
  intx_disabled_ = disabled;
  drive_intx_line();
}

void PciFunction::set_intx_level(bool asserted) {
  if (interrupt_pin_ == kInterruptPinNone) return;
  const std::lock_guard intx_lock(intx_mutex_);
  intx_level_ = asserted;
  drive_intx_line();
}

void PciFunction::drive_intx_line() {
  const bool assert_line = intx_level_ && !intx_disabled_;
  if (assert_line == intx_line_asserted_) return;
  intx_line_asserted_ = assert_line;
  if (intx_line_) intx_line_->set_level(assert_line);
}

PciFunctionState PciFunction::save_function() const {
  PciFunctionState state;
  {
    const std::lock_guard lock(config_mutex_);
    state.config = config_.bytes();
  }
  const std::lock_guard intx_lock(intx_mutex_);
  state.intx_level = intx_level_;
  return state;
}

void PciFunction::restore_function(const PciFunctionState& state) {
  const std::lock_guard lock(config_mutex_);
  // The snapshot was taken from the same device model, so its bytes (IDs,
  // capabilities, BARs, MSI-X control) are taken whole.
  config_.restore_bytes(state.config);
  update_intx_disable();
  {
    const std::lock_guard intx_lock(intx_mutex_);
    intx_level_ = state.intx_level;
    drive_intx_line();
  }
  update_bar_mappings();
}

}  // namespace nestbox::pci
