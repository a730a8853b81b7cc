#include "snapshot/ram_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/nestbox_error.h"
#include "snapshot/atomic_file.h"
#include "snapshot/snapshot_error.h"

namespace nestbox::snapshot {

namespace {

// Report progress about this often, and never write more in one pwrite (a
// long run of data would otherwise go by without a progress call).
constexpr std::uint64_t kProgressStep = 64ull << 20;
constexpr std::uint64_t kMaxWriteRun = 8ull << 20;

// Accumulates adjacent non-zero pages into one pwrite.
class RunWriter {
 public:
  RunWriter(int fd, const std::string& path) : fd_(fd), path_(path) {}

  void add_page(const std::uint8_t* host, std::uint64_t file_offset) {
    if (length_ != 0 && (host != host_ + length_ || file_offset != file_offset_ + length_ ||
                         length_ >= kMaxWriteRun)) {
      flush();
    }
    if (length_ == 0) {
      host_ = host;
      file_offset_ = file_offset;
    }
    length_ += kRamFilePageSize;
  }

  void flush() {
    if (length_ == 0) return;
    write_fully(fd_, {host_, static_cast<std::size_t>(length_)}, file_offset_, path_);
    written_ += length_;
    length_ = 0;
  }

  [[nodiscard]] std::uint64_t written() const { return written_; }

 private:
  int fd_;
  const std::string& path_;
  const std::uint8_t* host_ = nullptr;
  std::uint64_t file_offset_ = 0;
  std::uint64_t length_ = 0;
  std::uint64_t written_ = 0;
};

}  // namespace

bool is_zero_page(const std::uint8_t* page) {
  // 64 bytes per step, OR-ed together so the compiler can vectorise it; the
  // early exit makes a page with data cost little more than its first bytes.
  for (std::size_t block = 0; block < kRamFilePageSize; block += 64) {
    std::uint64_t words[8];
    std::memcpy(words, page + block, sizeof words);
    std::uint64_t any = 0;
    for (const std::uint64_t word : words) any |= word;
    if (any != 0) return false;
  }
  return true;
}

std::uint64_t write_ram_file(const GuestMemory& memory, const std::string& path,
                             const RamFileProgress& progress) {
  const std::span<const GuestRamRegion> regions = memory.regions();
  std::vector<std::uint64_t> file_offsets;  // where each region starts in the file
  std::uint64_t total = 0;
  for (const GuestRamRegion& region : regions) {
    file_offsets.push_back(total);
    total += region.size;
  }
  const std::vector<GuestRamExtent> extents = memory.populated_extents();

  std::uint64_t written = 0;
  write_file_atomically(path, [&](int fd) {
    // Sized first: everything not written below stays a hole.
    if (::ftruncate(fd, static_cast<off_t>(total)) != 0) {
      throw_io_error("cannot size the RAM file", path, errno);
    }
    RunWriter writer(fd, path);
    std::uint64_t done = 0;           // bytes of RAM scanned or known to be holes
    std::uint64_t last_reported = 0;  // `done` at the last progress call
    const auto report = [&](std::uint64_t now_done, bool force) {
      if (progress && (force || now_done - last_reported >= kProgressStep)) {
        last_reported = now_done;
        progress(now_done, total);
      }
    };
    report(0, true);
    for (const GuestRamExtent& extent : extents) {
      const std::uint8_t* region_host = memory.host_address_of_region(extent.region);
      const std::uint64_t region_file = file_offsets[extent.region];
      // Extents from the memfd are page aligned; round outward to be sure.
      const std::uint64_t first = extent.offset / kRamFilePageSize * kRamFilePageSize;
      const std::uint64_t end = std::min<std::uint64_t>(
          (extent.offset + extent.length + kRamFilePageSize - 1) / kRamFilePageSize *
              kRamFilePageSize,
          regions[extent.region].size);
      // Everything between the previous extent and this one was a hole.
      done = std::max(done, region_file + first);
      for (std::uint64_t offset = first; offset < end; offset += kRamFilePageSize) {
        const std::uint8_t* page = region_host + offset;
        if (!is_zero_page(page)) {
          writer.add_page(page, region_file + offset);
        }
        done = region_file + offset + kRamFilePageSize;
        if (done - last_reported >= kProgressStep) {
          writer.flush();
          report(done, false);
        }
      }
    }
    writer.flush();
    written = writer.written();
    report(total, true);
  });
  return written;
}

std::vector<std::uint8_t> encode_ram_section(std::span<const GuestRamRegion> regions) {
  ByteWriter out;
  out.u32(static_cast<std::uint32_t>(regions.size()));
  std::uint64_t total = 0;
  for (const GuestRamRegion& region : regions) {
    out.u64(region.guest_address);
    out.u64(region.size);
    total += region.size;
  }
  out.u64(total);
  return out.take();
}

RamLayout decode_ram_section(ByteReader in) {
  RamLayout layout;
  const std::uint32_t count = in.count(kMaxRamRegions, 16);
  if (count == 0) {
    in.fail("no RAM regions");
  }
  std::uint64_t total = 0;
  std::uint64_t previous_end = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    GuestRamRegion region{};
    region.guest_address = in.u64();
    region.size = in.u64();
    const bool aligned =
        region.guest_address % kRamFilePageSize == 0 && region.size % kRamFilePageSize == 0;
    if (region.size == 0 || !aligned || region.guest_address + region.size < region.guest_address ||
        region.guest_address < previous_end || total + region.size < total) {
      in.fail("RAM region " + std::to_string(i) + " is invalid");
    }
    previous_end = region.guest_address + region.size;
    total += region.size;
    layout.regions.push_back(region);
  }
  layout.file_size = in.u64();
  if (layout.file_size != total) {
    in.fail("the RAM file size " + std::to_string(layout.file_size) +
            " does not match the regions' total " + std::to_string(total));
  }
  in.expect_end();
  return layout;
}

GuestMemory map_ram_file(const RamLayout& layout, const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw_io_error("cannot open the snapshot's RAM file", path, errno);
  }
  if (static_cast<std::uint64_t>(info.st_size) != layout.file_size) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        path + ": the RAM file is " + std::to_string(info.st_size) +
                            " bytes, the snapshot says " + std::to_string(layout.file_size) +
                            ": it is damaged or belongs to another snapshot");
  }
  // map_file_private checks the size again on the fd it maps, which closes
  // the window between this stat and the open.
  return GuestMemory::map_file_private(layout.regions, path);
}

}  // namespace nestbox::snapshot
