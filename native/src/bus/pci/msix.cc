#include "bus/pci/msix.h"

#include <array>
#include <cstring>

#include "bus/pci/pci_abi.h"
#include "common/nestbox_error.h"

namespace nestbox::pci {

namespace {
constexpr std::size_t kVectorControlByte = 12;  // within an entry
}

std::uint8_t add_msix_capability(PciConfigSpace& config, const MsixCapabilityLayout& layout) {
  if (layout.vector_count == 0 || layout.vector_count > kMsixMaxVectors ||
      layout.table_bar >= kBarCount || layout.pba_bar >= kBarCount ||
      layout.table_offset % 8 != 0 || layout.pba_offset % 8 != 0) {
    throw NestboxError(ErrorCode::InvalidConfig, "invalid MSI-X capability layout");
  }
  const std::uint16_t control = static_cast<std::uint16_t>(layout.vector_count - 1);
  const std::uint32_t table = layout.table_offset | layout.table_bar;
  const std::uint32_t pba = layout.pba_offset | layout.pba_bar;
  const std::array<std::uint8_t, 10> body{
      static_cast<std::uint8_t>(control), static_cast<std::uint8_t>(control >> 8),
      static_cast<std::uint8_t>(table),   static_cast<std::uint8_t>(table >> 8),
      static_cast<std::uint8_t>(table >> 16), static_cast<std::uint8_t>(table >> 24),
      static_cast<std::uint8_t>(pba),     static_cast<std::uint8_t>(pba >> 8),
      static_cast<std::uint8_t>(pba >> 16), static_cast<std::uint8_t>(pba >> 24)};
  const std::uint8_t offset = config.add_capability(kCapabilityMsix, body);
  config.set_writable_u16(offset + kMsixMessageControlOffset,
                          kMsixControlEnable | kMsixControlFunctionMask);
  return offset;
}

MsixVectors::MsixVectors(std::uint16_t count) : count_(count) {
  if (count == 0 || count > kMsixMaxVectors) {
    throw NestboxError(ErrorCode::InvalidConfig, "MSI-X needs 1 to 2048 vectors");
  }
  state_.table.assign(table_size(), 0);
  state_.pending.assign(count, false);
  for (std::uint16_t vector = 0; vector < count; ++vector) {
    state_.table[kMsixEntrySize * vector + kVectorControlByte] = kMsixEntryMasked;
  }
}

void MsixVectors::set_sink(std::shared_ptr<MsiSink> sink) {
  const std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

void MsixVectors::table_read(std::uint64_t offset, std::span<std::uint8_t> data) const {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < state_.table.size() ? state_.table[offset + i] : 0;
  }
}

void MsixVectors::table_write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::uint64_t at = offset + i;
    if (at >= state_.table.size()) break;
    const std::uint64_t field = at % kMsixEntrySize;
    if (field == kVectorControlByte) {
      state_.table[at] = data[i] & kMsixEntryMasked;  // other control bits are reserved
    } else if (field < kVectorControlByte) {
      state_.table[at] = data[i];
    }
  }
  deliver_unmasked_pending();
}

void MsixVectors::pba_read(std::uint64_t offset, std::span<std::uint8_t> data) const {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    std::uint8_t byte = 0;
    const std::uint64_t first_vector = (offset + i) * 8;
    for (std::uint64_t bit = 0; bit < 8; ++bit) {
      if (first_vector + bit < count_ && state_.pending[first_vector + bit]) {
        byte = static_cast<std::uint8_t>(byte | (1u << bit));
      }
    }
    data[i] = byte;
  }
}

void MsixVectors::set_control(std::uint16_t message_control) {
  const std::lock_guard lock(mutex_);
  state_.enabled = (message_control & kMsixControlEnable) != 0;
  state_.function_masked = (message_control & kMsixControlFunctionMask) != 0;
  deliver_unmasked_pending();
}

bool MsixVectors::enabled() const {
  const std::lock_guard lock(mutex_);
  return state_.enabled;
}

bool MsixVectors::entry_masked(std::uint16_t vector) const {
  return (state_.table[kMsixEntrySize * vector + kVectorControlByte] & kMsixEntryMasked) != 0;
}

MsiMessage MsixVectors::message(std::uint16_t vector) const {
  const std::uint8_t* entry = &state_.table[kMsixEntrySize * vector];
  std::uint32_t low = 0;
  std::uint32_t high = 0;
  MsiMessage message;
  std::memcpy(&low, entry, 4);
  std::memcpy(&high, entry + 4, 4);
  std::memcpy(&message.data, entry + 8, 4);
  message.address = (static_cast<std::uint64_t>(high) << 32) | low;
  return message;
}

void MsixVectors::notify(std::uint16_t vector) {
  const std::lock_guard lock(mutex_);
  if (vector >= count_ || !state_.enabled) return;
  if (state_.function_masked || entry_masked(vector)) {
    state_.pending[vector] = true;
    return;
  }
  if (sink_) sink_->send_msi(message(vector));
}

void MsixVectors::deliver_unmasked_pending() {
  if (!state_.enabled || state_.function_masked) return;
  for (std::uint16_t vector = 0; vector < count_; ++vector) {
    if (state_.pending[vector] && !entry_masked(vector)) {
      state_.pending[vector] = false;
      if (sink_) sink_->send_msi(message(vector));
    }
  }
}

MsixState MsixVectors::save() const {
  const std::lock_guard lock(mutex_);
  return state_;
}

void MsixVectors::restore(const MsixState& state) {
  if (state.table.size() != table_size() || state.pending.size() != count_) {
    throw NestboxError(ErrorCode::InvalidConfig, "MSI-X snapshot has a different vector count");
  }
  const std::lock_guard lock(mutex_);
  state_ = state;
}

}  // namespace nestbox::pci
