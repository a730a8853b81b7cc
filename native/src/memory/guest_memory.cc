#include "memory/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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

}  // namespace

GuestMemory GuestMemory::allocate(std::vector<GuestRamRegion> regions) {
  if (regions.empty()) {
    throw NestboxError(ErrorCode::GuestMemory, "guest RAM needs at least one region");
  }
  std::uint64_t total = 0;
  std::uint64_t previous_end = 0;
  std::vector<std::uint64_t> host_offsets;
  for (const GuestRamRegion& region : regions) {
    const bool aligned = region.guest_address % kPageSize == 0 && region.size % kPageSize == 0;
    const bool wraps = region.guest_address + region.size < region.guest_address;
    if (region.size == 0 || !aligned || wraps || region.guest_address < previous_end) {
      throw NestboxError(ErrorCode::GuestMemory,
                         "invalid guest RAM region at " + to_hex(region.guest_address));
    }
    host_offsets.push_back(total);
    total += region.size;
    previous_end = region.guest_address + region.size;
  }

  UniqueFd memfd(::memfd_create("nestbox-guest-ram", MFD_CLOEXEC));
  if (!memfd.valid()) {
    throw_allocation_failure("memfd_create", errno);
  }
  if (::ftruncate(memfd.get(), static_cast<off_t>(total)) != 0) {
    throw_allocation_failure("ftruncate", errno);
  }
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
  // Punching a hole frees the memfd's pages; the shared mapping then reads zeros.
  if (total_size_ != 0 &&
      ::fallocate(memfd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                  static_cast<off_t>(total_size_)) != 0) {
    throw NestboxError(ErrorCode::GuestMemory,
                       std::string("clearing guest RAM failed: ") + std::strerror(errno));
  }
}

}  // namespace nestbox
