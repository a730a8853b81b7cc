#include "block/raw_image.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

namespace nestbox::block {

std::unique_ptr<RawImage> RawImage::open(const std::string& path, const OpenOptions& options) {
  ImageFile file = ImageFile::open(path, options.read_only);
  const std::uint64_t size = file.size();
  return std::unique_ptr<RawImage>(new RawImage(std::move(file), size, options.read_only));
}

void RawImage::create(const std::string& path, std::uint64_t size) {
  ImageFile file = ImageFile::create(path);
  try {
    file.truncate(size);
    file.sync_data();
  } catch (...) {
    file.close();
    ::unlink(path.c_str());
    throw;
  }
}

RawImage::RawImage(ImageFile file, std::uint64_t size, bool read_only)
    : file_(std::move(file)), path_(file_.path()), size_(size), read_only_(read_only) {}

RawImage::~RawImage() {
  try {
    close();
  } catch (...) {
    // Nothing to report to from a destructor; close() explicitly to see errors.
  }
}

std::uint64_t RawImage::allocated_bytes() const { return file_.allocated_bytes(); }

void RawImage::check_open() const {
  if (closed_.load()) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument, path_ + ": image is closed");
  }
}

void RawImage::check_range(std::uint64_t offset, std::uint64_t length) const {
  check_open();
  if (offset > size_ || length > size_ - offset) {
    throw DiskImageError(DiskImageErrorCode::OutOfRange,
                         path_ + ": access at " + std::to_string(offset) + "+" + std::to_string(length) +
                             " beyond the disk size " + std::to_string(size_));
  }
}

void RawImage::check_writable() const {
  if (read_only_) {
    throw DiskImageError(DiskImageErrorCode::ReadOnly, path_ + ": image is open read-only");
  }
}

void RawImage::read(std::uint64_t offset, std::span<std::uint8_t> out) {
  check_range(offset, out.size());
  const std::size_t got = file_.read_some(offset, out);
  // A block device or a file that shrank under us: what is missing reads as zeroes.
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(got), out.end(), 0);
}

void RawImage::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  check_range(offset, data.size());
  check_writable();
  file_.write_all(offset, data);
}

void RawImage::write_zeroes(std::uint64_t offset, std::uint64_t length) {
  check_range(offset, length);
  check_writable();
  if (length == 0) return;
  if (file_.punch_hole(offset, length)) return;
  std::vector<std::uint8_t> zeroes(static_cast<std::size_t>(std::min<std::uint64_t>(length, 1 << 20)), 0);
  while (length > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(length, zeroes.size()));
    file_.write_all(offset, std::span<const std::uint8_t>(zeroes.data(), n));
    offset += n;
    length -= n;
  }
}

void RawImage::discard(std::uint64_t offset, std::uint64_t length) {
  // Punching a hole is both a discard and a zeroing, so one path serves both.
  write_zeroes(offset, length);
}

void RawImage::flush() {
  check_open();
  if (!read_only_) file_.sync_data();
}

void RawImage::close() {
  std::lock_guard lock(close_mutex_);
  if (closed_.exchange(true)) return;
  try {
    if (!read_only_) file_.sync_data();
  } catch (...) {
    file_.close();
    throw;
  }
  file_.close();
}

}  // namespace nestbox::block
