// Guest RAM: one memfd mapped once into the VMM, presented to the guest as one
// or more physical regions (RAM is split around the 32-bit PCI hole). Every
// access by guest physical address is bounds-checked: addresses and lengths
// read from guest memory or from image files are untrusted.
//
// Restored from a snapshot, RAM is instead a snapshot's RAM file mapped
// MAP_PRIVATE (map_file_private): nothing is read up front, pages load from
// the file when first touched, and guest writes go to private copies, never
// to the file. Either way the regions lie back to back in one mapping, in
// the same order and at the same offsets as in a RAM file.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/unique_fd.h"

namespace nestbox {

struct GuestRamRegion {
  std::uint64_t guest_address;
  std::uint64_t size;
};

// A byte range inside one region (offsets relative to the region's start).
struct GuestRamExtent {
  std::size_t region;
  std::uint64_t offset;
  std::uint64_t length;
};

class GuestMemory {
 public:
  // Regions must be non-empty, page-aligned, sorted and non-overlapping.
  static GuestMemory allocate(std::vector<GuestRamRegion> regions);

  // RAM whose initial contents are the file at `path`, laid out as
  // snapshot::write_ram_file writes it (the regions back to back, the file
  // exactly as long as all of them). The file is opened read-only and mapped
  // MAP_PRIVATE | MAP_NORESERVE: this takes about as long for 64 GiB as for
  // 64 MiB, pages are read (and shared in the page cache with any other VM
  // mapping the same file) on first touch, and guest writes stay private.
  //
  // Lifetime rules for the file, which the snapshot layer must keep:
  //  * it may be unlinked, or replaced by rename, at any time: the mapping
  //    holds the inode, and its pages stay readable until this object dies;
  //  * it must never be truncated or written in place while any VM maps it:
  //    pages the guest has not yet written would show the new bytes, or
  //    raise SIGBUS past a truncated end. write_ram_file only ever replaces
  //    a file by rename, so writing a new snapshot under an old name is safe.
  // Throws NestboxError (GuestMemory) when the file is missing, unreadable or
  // not exactly the regions' total size.
  static GuestMemory map_file_private(std::vector<GuestRamRegion> regions, const std::string& path);

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
  // power-on (used when the machine reboots). Not while vCPUs run. RAM mapped
  // from a snapshot's file becomes ordinary memfd-backed RAM at the same
  // addresses (a fresh memfd mapped over it), so KVM memory slots and host
  // pointers stay valid and the file is no longer referenced.
  void discard_all() const;

  // True while RAM is a snapshot file mapped MAP_PRIVATE (until discard_all).
  [[nodiscard]] bool is_file_backed() const { return backing_ == Backing::PrivateFile; }

  // The parts of RAM that may hold non-zero bytes, in order; every byte
  // outside them reads as zero. For memfd RAM these are the memfd's data
  // extents (SEEK_DATA/SEEK_HOLE), so RAM the guest never touched is neither
  // scanned nor faulted in when a snapshot is written. For file-backed RAM it
  // is all of every region: a page may have been written privately, which
  // the file cannot tell us. Not while vCPUs run (the answer would be stale).
  [[nodiscard]] std::vector<GuestRamExtent> populated_extents() const;

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

  enum class Backing { Memfd, PrivateFile };

  // For memfd RAM the memfd; for file-backed RAM the (read-only) file.
  // discard_all swaps a file for a fresh memfd, hence mutable.
  mutable UniqueFd memfd_;
  mutable Backing backing_ = Backing::Memfd;
  std::uint8_t* mapping_ = nullptr;
  std::uint64_t total_size_ = 0;
  std::vector<GuestRamRegion> regions_;
  std::vector<std::uint64_t> host_offsets_;  // region i starts at mapping_ + host_offsets_[i]
};

}  // namespace nestbox
