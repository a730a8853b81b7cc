// An address space (x86 port I/O, or MMIO) that routes each access to the
// device attached at that address. Accesses nobody claims behave like an
// unconnected bus (reads return all ones, writes vanish) and are counted, so
// a guest probing for hardware we lack is visible in the machine's stats.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "bus/bus_device.h"

namespace nestbox {

struct BusStats {
  std::uint64_t unknown_reads = 0;
  std::uint64_t unknown_writes = 0;
};

class AddressBus {
 public:
  explicit AddressBus(std::string name) : name_(std::move(name)) {}

  // Claims [base, base + length) for `device`. Throws if the range is empty,
  // wraps, or overlaps a device already attached. Attach before vCPUs run:
  // dispatch reads the device map without locking.
  void attach(std::uint64_t base, std::uint64_t length, std::shared_ptr<BusDevice> device);

  // Both return whether a device handled the access. An access must lie
  // entirely inside one device's range to reach it.
  bool read(std::uint64_t address, std::span<std::uint8_t> data);
  bool write(std::uint64_t address, std::span<const std::uint8_t> data);

  [[nodiscard]] BusStats stats() const;
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  struct Attachment {
    std::uint64_t length;
    std::shared_ptr<BusDevice> device;
  };
  // The attachment containing the whole access, with the access's offset into it.
  std::pair<BusDevice*, std::uint64_t> find(std::uint64_t address, std::uint64_t size) const;

  std::string name_;
  std::map<std::uint64_t, Attachment> attachments_;  // by base address
  std::atomic<std::uint64_t> unknown_reads_{0};
  std::atomic<std::uint64_t> unknown_writes_{0};
};

}  // namespace nestbox
