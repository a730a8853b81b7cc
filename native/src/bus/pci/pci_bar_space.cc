#include "bus/pci/pci_bar_space.h"

#include <algorithm>
#include <iterator>
#include <mutex>

namespace nestbox::pci {

PciBarSpace::PciBarSpace(std::string name, std::uint64_t base, std::uint64_t size)
    : name_(std::move(name)), base_(base), size_(size) {}

bool PciBarSpace::add(const PciBarMapping& mapping) {
  if (mapping.size == 0 || mapping.address < base_ || mapping.address - base_ > size_ ||
      mapping.size > size_ - (mapping.address - base_) || !mapping.region) {
    return false;
  }
  const std::unique_lock lock(mutex_);
  const auto next = entries_.lower_bound(mapping.address);
  if (next != entries_.end() && next->first < mapping.address + mapping.size) return false;
  if (next != entries_.begin()) {
    const auto previous = std::prev(next);
    if (previous->first + previous->second.size > mapping.address) return false;
  }
  entries_.emplace(mapping.address, Entry{mapping.size, mapping.region});
  return true;
}

void PciBarSpace::remove(const PciBarMapping& mapping) {
  const std::unique_lock lock(mutex_);
  const auto found = entries_.find(mapping.address);
  // Only the mapping's own entry: a rejected (overlapping) BAR must not take
  // away the one that was there first.
  if (found != entries_.end() && found->second.region == mapping.region &&
      found->second.size == mapping.size) {
    entries_.erase(found);
  }
}

std::pair<std::shared_ptr<BusDevice>, std::uint64_t> PciBarSpace::find(std::uint64_t address,
                                                                       std::uint64_t size) const {
  const std::shared_lock lock(mutex_);
  auto after = entries_.upper_bound(address);
  if (after == entries_.begin()) return {nullptr, 0};
  const auto& [start, entry] = *std::prev(after);
  const std::uint64_t offset = address - start;
  if (offset >= entry.size || size > entry.size - offset) return {nullptr, 0};
  return {entry.region, offset};
}

// The region is called after the lock is released: a region may raise an
// interrupt or take its own locks, and a concurrent BAR move must not wait.
void PciBarSpace::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  if (auto [region, region_offset] = find(base_ + offset, data.size()); region) {
    region->read(region_offset, data);
    return;
  }
  std::fill(data.begin(), data.end(), std::uint8_t{0xff});
}

void PciBarSpace::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (auto [region, region_offset] = find(base_ + offset, data.size()); region) {
    region->write(region_offset, data);
  }
}

PciBarSpace& PciBarRouter::space_for(const PciBarMapping& mapping) const {
  return mapping.kind == PciBarKind::Io ? *io_ : *mmio_;
}

void PciBarRouter::map_bar(const PciBarMapping& mapping) {
  if (space_for(mapping).add(mapping) && listener_) listener_(mapping, true);
}

void PciBarRouter::unmap_bar(const PciBarMapping& mapping) {
  space_for(mapping).remove(mapping);
  if (listener_) listener_(mapping, false);
}

}  // namespace nestbox::pci
