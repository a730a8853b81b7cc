#include "bus/address_bus.h"

#include <algorithm>

#include "common/hex.h"
#include "common/nestbox_error.h"

namespace nestbox {

void AddressBus::attach(std::uint64_t base, std::uint64_t length,
                        std::shared_ptr<BusDevice> device) {
  if (length == 0 || base + length < base || !device) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       name_ + ": invalid device range at " + to_hex(base));
  }
  // The first attachment at or after `base`, and the one before it, are the
  // only ones that can overlap.
  const auto next = attachments_.lower_bound(base);
  const bool overlaps_next = next != attachments_.end() && next->first < base + length;
  const bool overlaps_previous =
      next != attachments_.begin() &&
      std::prev(next)->first + std::prev(next)->second.length > base;
  if (overlaps_next || overlaps_previous) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       name_ + ": device range at " + to_hex(base) + " overlaps another device");
  }
  attachments_.emplace(base, Attachment{length, std::move(device)});
}

std::pair<BusDevice*, std::uint64_t> AddressBus::find(std::uint64_t address,
                                                      std::uint64_t size) const {
  auto after = attachments_.upper_bound(address);
  if (after == attachments_.begin()) {
    return {nullptr, 0};
  }
  const auto& [base, attachment] = *std::prev(after);
  const std::uint64_t offset = address - base;
  if (offset >= attachment.length || size > attachment.length - offset) {
    return {nullptr, 0};
  }
  return {attachment.device.get(), offset};
}

bool AddressBus::read(std::uint64_t address, std::span<std::uint8_t> data) {
  if (auto [device, offset] = find(address, data.size()); device != nullptr) {
    device->read(offset, data);
    return true;
  }
  std::fill(data.begin(), data.end(), std::uint8_t{0xff});
  unknown_reads_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool AddressBus::write(std::uint64_t address, std::span<const std::uint8_t> data) {
  if (auto [device, offset] = find(address, data.size()); device != nullptr) {
    device->write(offset, data);
    return true;
  }
  unknown_writes_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

BusStats AddressBus::stats() const {
  return BusStats{unknown_reads_.load(std::memory_order_relaxed),
                  unknown_writes_.load(std::memory_order_relaxed)};
}

}  // namespace nestbox
