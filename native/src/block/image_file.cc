#include "block/image_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nestbox::block {

std::string os_error_message(const std::string& path, const std::string& what, int error) {
  return path + ": " + what + " (" + std::strerror(error) + ")";
}

ImageFile ImageFile::open(const std::string& path, bool read_only) {
  const int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd.valid()) {
    const int error = errno;
    if (error == ENOENT) {
      throw DiskImageError(DiskImageErrorCode::NotFound, path + ": no such file");
    }
    throw DiskImageError(DiskImageErrorCode::Unreadable,
                         os_error_message(path, read_only ? "cannot open" : "cannot open for writing", error));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw DiskImageError(DiskImageErrorCode::Unreadable, os_error_message(path, "cannot stat", errno));
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    throw DiskImageError(DiskImageErrorCode::Unreadable,
                         path + ": not a regular file or block device");
  }
  return ImageFile(std::move(fd), path, read_only);
}

ImageFile ImageFile::create(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    const int error = errno;
    if (error == EEXIST) {
      throw DiskImageError(DiskImageErrorCode::AlreadyExists,
                           path + ": already exists (Nestbox never overwrites an image)");
    }
    throw DiskImageError(DiskImageErrorCode::IoError, os_error_message(path, "cannot create", error));
  }
  return ImageFile(std::move(fd), path, false);
}

std::size_t ImageFile::read_some(std::uint64_t offset, std::span<std::uint8_t> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw DiskImageError(DiskImageErrorCode::Unreadable,
                           os_error_message(path_, "read error at offset " + std::to_string(offset + done), errno));
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

void ImageFile::read_exact(std::uint64_t offset, std::span<std::uint8_t> out, const char* what) const {
  if (offset > static_cast<std::uint64_t>(INT64_MAX) - out.size() ||
      read_some(offset, out) != out.size()) {
    throw DiskImageError(DiskImageErrorCode::Corrupt,
                         path_ + ": corrupt image: " + what + " at offset " + std::to_string(offset) +
                             " lies beyond the end of the file");
  }
}

void ImageFile::write_all(std::uint64_t offset, std::span<const std::uint8_t> data) const {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd_.get(), data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw DiskImageError(DiskImageErrorCode::IoError,
                           os_error_message(path_, "write error at offset " + std::to_string(offset + done), errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

void ImageFile::sync_data() const {
  if (::fdatasync(fd_.get()) != 0) {
    throw DiskImageError(DiskImageErrorCode::IoError, os_error_message(path_, "fdatasync failed", errno));
  }
}

void ImageFile::truncate(std::uint64_t size) const {
  if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
    throw DiskImageError(DiskImageErrorCode::IoError, os_error_message(path_, "cannot resize", errno));
  }
}

bool ImageFile::punch_hole(std::uint64_t offset, std::uint64_t length) const {
  return ::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                     static_cast<off_t>(length)) == 0;
}

std::uint64_t ImageFile::size() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) {
    throw DiskImageError(DiskImageErrorCode::Unreadable, os_error_message(path_, "cannot stat", errno));
  }
  if (S_ISBLK(st.st_mode)) {
    const off_t end = ::lseek(fd_.get(), 0, SEEK_END);
    return end < 0 ? 0 : static_cast<std::uint64_t>(end);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

std::uint64_t ImageFile::allocated_bytes() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

}  // namespace nestbox::block
