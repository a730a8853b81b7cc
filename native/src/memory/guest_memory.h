// Guest RAM: one memfd mapped once into the VMM, presented to the guest as one
// or more physical regions (RAM is split around the 32-bit PCI hole). Every
// access by guest physical address is bounds-checked: addresses and lengths
// read from guest memory or from image files are untrusted.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "common/unique_fd.h"

namespace nestbox {

struct GuestRamRegion {
  std::uint64_t guest_address;
  std::uint64_t size;
};

class GuestMemory {
 public:
  // Regions must be non-empty, page-aligned, sorted and non-overlapping.
  static GuestMemory allocate(std::vector<GuestRamRegion> regions);

  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  GuestMemory(GuestMemory&& other) noexcept;
  GuestMemory& operator=(GuestMemory&&) = delete;

  [[nodiscard]] std::span<const GuestRamRegion> regions() const { return regions_; }
  [[nodiscard]] std::uint64_t total_size() const { return total_size_; }
  // Where a region starts in the VMM's address space (for KVM memory slots).
  [[nodiscard]] std::uint8_t* host_address_of_region(std::size_t index) const;

  // True when [address, address + length) lies entirely inside one RAM region.
  [[nodiscard]] bool contains(std::uint64_t address, std::uint64_t length) const noexcept;
  // The host bytes backing [address, address + length); throws GuestMemory if
  // any of it is outside RAM or it straddles two regions.
  [[nodiscard]] std::span<std::uint8_t> span(std::uint64_t address, std::uint64_t length) const;

  // Returns every page to the host: all of RAM reads as zero again, as after
  // power-on (used when the machine reboots). Not while vCPUs run.
  void discard_all() const;

  void write(std::uint64_t address, std::span<const std::uint8_t> bytes) const;
  void read(std::uint64_t address, std::span<std::uint8_t> bytes) const;

  template <typename T>
  void write_object(std::uint64_t address, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    std::memcpy(span(address, sizeof(T)).data(), &value, sizeof(T));
  }
  template <typename T>
  [[nodiscard]] T read_object(std::uint64_t address) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, span(address, sizeof(T)).data(), sizeof(T));
    return value;
  }

 private:
  GuestMemory(UniqueFd memfd, std::uint8_t* mapping, std::uint64_t total_size,
              std::vector<GuestRamRegion> regions, std::vector<std::uint64_t> host_offsets);

  UniqueFd memfd_;
  std::uint8_t* mapping_ = nullptr;
  std::uint64_t total_size_ = 0;
  std::vector<GuestRamRegion> regions_;
  std::vector<std::uint64_t> host_offsets_;  // region i starts at mapping_ + host_offsets_[i]
};

}  // namespace nestbox
