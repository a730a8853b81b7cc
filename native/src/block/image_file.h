// A host file holding a disk image: positioned I/O that either completes fully or
// throws a DiskImageError naming the file (short reads past the end are
// distinguishable from errors), fdatasync, size and st_blocks.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "block/disk_image_error.h"
#include "common/unique_fd.h"

namespace nestbox::block {

class ImageFile {
 public:
  // Opens an existing file (O_CLOEXEC; O_RDWR unless read_only). Throws NotFound /
  // Unreadable with a message naming the path and the OS error.
  static ImageFile open(const std::string& path, bool read_only);
  // Creates a new file (O_EXCL: never replaces an existing one). Throws AlreadyExists.
  static ImageFile create(const std::string& path);

  ImageFile() = default;
  ImageFile(ImageFile&&) noexcept = default;
  ImageFile& operator=(ImageFile&&) noexcept = default;

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] bool valid() const { return fd_.valid(); }
  [[nodiscard]] bool read_only() const { return read_only_; }

  // Reads as much as exists at `offset` (up to out.size()); returns the count. Short
  // only at the end of the file.
  std::size_t read_some(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // Reads exactly out.size() bytes or throws Corrupt (`what` names the structure).
  void read_exact(std::uint64_t offset, std::span<std::uint8_t> out, const char* what) const;
  void write_all(std::uint64_t offset, std::span<const std::uint8_t> data) const;
  void sync_data() const;
  void truncate(std::uint64_t size) const;
  // Releases a range (FALLOC_FL_PUNCH_HOLE); returns false if unsupported.
  bool punch_hole(std::uint64_t offset, std::uint64_t length) const;
  [[nodiscard]] std::uint64_t size() const;
  [[nodiscard]] std::uint64_t allocated_bytes() const;
  void close() { fd_.reset(); }

 private:
  ImageFile(UniqueFd fd, std::string path, bool read_only)
      : fd_(std::move(fd)), path_(std::move(path)), read_only_(read_only) {}

  UniqueFd fd_;
  std::string path_;
  bool read_only_ = true;
};

// "path: message (strerror)" for an errno value.
std::string os_error_message(const std::string& path, const std::string& what, int error);

}  // namespace nestbox::block
