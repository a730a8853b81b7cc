#include "memory/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "common/hex.h"
#include "common/nestbox_error.h"

namespace nestbox {

namespace {

constexpr std::uint64_t kPageSize = 4096;

[[noreturn]] void throw_out_of_range(std::uint64_t address, std::uint64_t length) {
  throw NestboxError(ErrorCode::GuestMemory, "guest memory access of " + std::to_string(length) +
                                                 " bytes at " + to_hex(address) +
                                                 " is outside guest RAM");
}

[[noreturn]] void throw_allocation_failure(const std::string& what, int error_number) {
  throw NestboxError(ErrorCode::GuestMemory,
                     "cannot allocate guest RAM: " + what + ": " + std::strerror(error_number));
}

// Where each region goes in the one host mapping (back to back), and the
// total; throws on regions that are empty, unaligned, unsorted or overlapping.
struct RegionPlan {
  std::uint64_t total = 0;
  std::vector<std::uint64_t> host_offsets;
};

RegionPlan plan_regions(const std::vector<GuestRamRegion>& regions) {
  if (regions.empty()) {
    throw NestboxError(ErrorCode::GuestMemory, "guest RAM needs at least one region");
  }
  RegionPlan plan;
  std::uint64_t previous_end = 0;
  for (const GuestRamRegion& region : regions) {
    const bool aligned = region.guest_address % kPageSize == 0 && region.size % kPageSize == 0;
    const bool wraps = region.guest_address + region.size < region.guest_address;
    if (region.size == 0 || !aligned || wraps || region.guest_address < previous_end ||
        plan.total + region.size < plan.total) {
      throw NestboxError(ErrorCode::GuestMemory,
                         "invalid guest RAM region at " + to_hex(region.guest_address));
    }
    plan.host_offsets.push_back(plan.total);
    plan.total += region.size;
    previous_end = region.guest_address + region.size;
  }
  return plan;
}

// A new memfd of `size` bytes, all holes.
UniqueFd create_ram_memfd(std::uint64_t size) {
  UniqueFd memfd(::memfd_create("nestbox-guest-ram", MFD_CLOEXEC));
  if (!memfd.valid()) {
    throw_allocation_failure("memfd_create", errno);
  }
  if (::ftruncate(memfd.get(), static_cast<off_t>(size)) != 0) {
    throw_allocation_failure("ftruncate", errno);
  }
  return memfd;
}

}  // namespace

GuestMemory GuestMemory::allocate(std::vector<GuestRamRegion> regions) {
  RegionPlan plan = plan_regions(regions);
  const std::uint64_t total = plan.total;
  std::vector<std::uint64_t> host_offsets = std::move(plan.host_offsets);

  UniqueFd memfd = create_ram_memfd(total);
  // MAP_NORESERVE: pages are allocated when the guest touches them.
  void* mapping = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                         memfd.get(), 0);
  if (mapping == MAP_FAILED) {
    throw_allocation_failure("mmap", errno);
  }
  // Guest RAM in a core dump of the VMM is large and may hold the user's secrets.
  ::madvise(mapping, total, MADV_DONTDUMP);
  return GuestMemory(std::move(memfd), static_cast<std::uint8_t*>(mapping), total,
                     std::move(regions), std::move(host_offsets));
}

GuestMemory GuestMemory::map_file_private(std::vector<GuestRamRegion> regions,
                                          const std::string& path) {
  RegionPlan plan = plan_regions(regions);
  // Read-only: a MAP_PRIVATE mapping may still be written (copy-on-write),
  // and no code path can then write the file by mistake.
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) {
    throw NestboxError(ErrorCode::GuestMemory, "cannot open the snapshot's RAM file " + path +
                                                   ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) {
    throw NestboxError(ErrorCode::GuestMemory, "cannot read the snapshot's RAM file " + path +
                                                   ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode) || static_cast<std::uint64_t>(info.st_size) != plan.total) {
    throw NestboxError(ErrorCode::GuestMemory,
                       "the snapshot's RAM file " + path + " is " + std::to_string(info.st_size) +
                           " bytes, but the snapshot's RAM is " + std::to_string(plan.total) +
                           " bytes: the file is damaged or belongs to another snapshot");
  }
  // MAP_NORESERVE: the private copies are charged as the guest writes, not
  // all up front (a private writable mapping otherwise reserves its size).
  void* mapping = ::mmap(nullptr, plan.total, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_NORESERVE, file.get(), 0);
  if (mapping == MAP_FAILED) {
    throw NestboxError(ErrorCode::GuestMemory, "cannot map the snapshot's RAM file " + path +
                                                   ": " + std::strerror(errno));
  }
  ::madvise(mapping, plan.total, MADV_DONTDUMP);
  GuestMemory memory(std::move(file), static_cast<std::uint8_t*>(mapping), plan.total,
                     std::move(regions), std::move(plan.host_offsets));
  memory.backing_ = Backing::PrivateFile;
  return memory;
}

GuestMemory::GuestMemory(UniqueFd memfd, std::uint8_t* mapping, std::uint64_t total_size,
                         std::vector<GuestRamRegion> regions,
                         std::vector<std::uint64_t> host_offsets)
    : memfd_(std::move(memfd)),
      mapping_(mapping),
      total_size_(total_size),
      regions_(std::move(regions)),
      host_offsets_(std::move(host_offsets)) {}

GuestMemory::~GuestMemory() {
  if (mapping_ != nullptr) {
    ::munmap(mapping_, total_size_);
  }
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : memfd_(std::move(other.memfd_)),
      backing_(other.backing_),
      mapping_(std::exchange(other.mapping_, nullptr)),
      total_size_(std::exchange(other.total_size_, 0)),
      regions_(std::move(other.regions_)),
      host_offsets_(std::move(other.host_offsets_)) {}

std::uint8_t* GuestMemory::host_address_of_region(std::size_t index) const {
  return mapping_ + host_offsets_.at(index);
}

bool GuestMemory::contains(std::uint64_t address, std::uint64_t length) const noexcept {
  for (const GuestRamRegion& region : regions_) {
    // Written so that no sum can overflow: offset and length are compared
    // against what remains of the region.
    if (address >= region.guest_address && address - region.guest_address <= region.size &&
        length <= region.size - (address - region.guest_address)) {
      return true;
    }
  }
  return false;
}

std::span<std::uint8_t> GuestMemory::span(std::uint64_t address, std::uint64_t length) const {
  for (std::size_t i = 0; i < regions_.size(); ++i) {
    const GuestRamRegion& region = regions_[i];
    if (address < region.guest_address || address - region.guest_address > region.size) {
      continue;
    }
    const std::uint64_t offset = address - region.guest_address;
    if (length > region.size - offset) {
      continue;  // runs past this region's end; no other region can hold it either
    }
    return {mapping_ + host_offsets_[i] + offset, static_cast<std::size_t>(length)};
  }
  throw_out_of_range(address, length);
}

void GuestMemory::write(std::uint64_t address, std::span<const std::uint8_t> bytes) const {
  const std::span<std::uint8_t> target = span(address, bytes.size());
  if (!bytes.empty()) {
    std::memcpy(target.data(), bytes.data(), bytes.size());
  }
}

void GuestMemory::read(std::uint64_t address, std::span<std::uint8_t> bytes) const {
  const std::span<std::uint8_t> source = span(address, bytes.size());
  if (!bytes.empty()) {
    std::memcpy(bytes.data(), source.data(), bytes.size());
  }
}

void GuestMemory::discard_all() const {
  if (backing_ == Backing::PrivateFile) {
    // Dropping private pages would show the file again, not zeros. Map a
    // fresh memfd over the same addresses instead: MAP_FIXED replaces the
    // old mapping in one step, so host pointers and KVM slots stay valid.
    if (total_size_ == 0) return;
    UniqueFd memfd = create_ram_memfd(total_size_);
    void* mapping = ::mmap(mapping_, total_size_, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_NORESERVE | MAP_FIXED, memfd.get(), 0);
    if (mapping == MAP_FAILED) {
      throw NestboxError(ErrorCode::GuestMemory,
                         std::string("clearing guest RAM failed: ") + std::strerror(errno));
    }
    ::madvise(mapping_, total_size_, MADV_DONTDUMP);
    memfd_ = std::move(memfd);
    backing_ = Backing::Memfd;
    return;
  }
  // Punching a hole frees the memfd's pages; the shared mapping then reads zeros.
  if (total_size_ != 0 &&
      ::fallocate(memfd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                  static_cast<off_t>(total_size_)) != 0) {
    throw NestboxError(ErrorCode::GuestMemory,
                       std::string("clearing guest RAM failed: ") + std::strerror(errno));
  }
}

std::vector<GuestRamExtent> GuestMemory::populated_extents() const {
  std::vector<GuestRamExtent> extents;
  const auto whole = [&] {
    extents.clear();
    for (std::size_t i = 0; i < regions_.size(); ++i) {
      extents.push_back({i, 0, regions_[i].size});
    }
    return extents;
  };
  if (backing_ == Backing::PrivateFile) {
    return whole();
  }
  // Walk the memfd's data extents and cut them at region boundaries.
  std::uint64_t position = 0;
  while (position < total_size_) {
    const off_t data = ::lseek(memfd_.get(), static_cast<off_t>(position), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // nothing but holes from here on
      return whole();             // no SEEK_DATA: scan everything
    }
    off_t hole = ::lseek(memfd_.get(), data, SEEK_HOLE);
    if (hole < 0) {
      return whole();
    }
    const auto begin = static_cast<std::uint64_t>(data);
    const std::uint64_t end = std::min(static_cast<std::uint64_t>(hole), total_size_);
    for (std::size_t i = 0; i < regions_.size(); ++i) {
      const std::uint64_t region_begin = host_offsets_[i];
      const std::uint64_t region_end = region_begin + regions_[i].size;
      const std::uint64_t from = std::max(begin, region_begin);
      const std::uint64_t to = std::min(end, region_end);
      if (from < to) {
        extents.push_back({i, from - region_begin, to - from});
      }
    }
    if (end <= begin) break;  // defensive: never loop without progress
    position = end;
  }
  return extents;
}

}  // namespace nestbox
