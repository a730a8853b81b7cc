// The part of an address space where PCI BARs decode (the MMIO window or the
// I/O window). The machine attaches it to its bus once, over the whole
// window; BARs then come and go at run time (the guest moves them) without
// touching the bus, whose map must not change while vCPUs run. Accesses where
// no BAR decodes behave like an empty bus: reads are all ones.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>

#include "bus/bus_device.h"
#include "bus/pci/pci_bar.h"

namespace nestbox::pci {

class PciBarSpace : public BusDevice {
 public:
  PciBarSpace(std::string name, std::uint64_t base, std::uint64_t size);

  [[nodiscard]] std::uint64_t base() const { return base_; }
  [[nodiscard]] std::uint64_t size() const { return size_; }

  // Returns false (and maps nothing) when the range leaves the window or
  // overlaps another BAR: a guest may program anything, and the PCI rule is
  // that overlapping BARs give undefined results, not a crashed VMM.
  bool add(const PciBarMapping& mapping);
  void remove(const PciBarMapping& mapping);

  // Offsets are from base().
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

 private:
  struct Entry {
    std::uint64_t size;
    std::shared_ptr<BusDevice> region;
  };
  // The region containing the whole access, and the offset into it.
  std::pair<std::shared_ptr<BusDevice>, std::uint64_t> find(std::uint64_t address,
                                                            std::uint64_t size) const;

  std::string name_;
  std::uint64_t base_;
  std::uint64_t size_;
  mutable std::shared_mutex mutex_;
  std::map<std::uint64_t, Entry> entries_;  // by absolute address
};

// A PciBarMapper over an I/O and an MMIO PciBarSpace. The listener hears every
// successful map and every unmap (the machine uses it to move ioeventfds with
// a virtio device's notify BAR).
class PciBarRouter : public PciBarMapper {
 public:
  using Listener = std::function<void(const PciBarMapping& mapping, bool mapped)>;

  PciBarRouter(std::shared_ptr<PciBarSpace> io, std::shared_ptr<PciBarSpace> mmio)
      : io_(std::move(io)), mmio_(std::move(mmio)) {}
  void set_listener(Listener listener) { listener_ = std::move(listener); }

  void map_bar(const PciBarMapping& mapping) override;
  void unmap_bar(const PciBarMapping& mapping) override;

 private:
  PciBarSpace& space_for(const PciBarMapping& mapping) const;

  std::shared_ptr<PciBarSpace> io_;
  std::shared_ptr<PciBarSpace> mmio_;
  Listener listener_;
};

}  // namespace nestbox::pci
