// Failures of the disk-image layer. Each carries a stable code so callers (the
// CLI, virtio-blk, the UI) can tell "no such file" from "corrupt image" without
// parsing messages; the message always names the file and says what to do.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace nestbox::block {

enum class DiskImageErrorCode {
  NotFound,          // the image (or a backing file) does not exist
  Unreadable,        // it exists but cannot be opened/read (permissions, a directory, EIO)
  Corrupt,           // the metadata is inconsistent or points outside the file
  Unsupported,       // a valid image using a feature we do not implement
  ReadOnly,          // a write to an image opened read-only (or that must stay read-only)
  OutOfRange,        // an access beyond the virtual size
  BackingChain,      // a backing chain problem: a loop, too deep, an unknown format
  AlreadyExists,     // create would overwrite an existing file
  InvalidArgument,   // a bad size, cluster size or option
  IoError,           // a write/flush/allocation failed at the OS level (ENOSPC, EIO...)
};

constexpr std::string_view disk_image_error_code_name(DiskImageErrorCode code) {
  switch (code) {
    case DiskImageErrorCode::NotFound: return "IMAGE_NOT_FOUND";
    case DiskImageErrorCode::Unreadable: return "IMAGE_UNREADABLE";
    case DiskImageErrorCode::Corrupt: return "IMAGE_CORRUPT";
    case DiskImageErrorCode::Unsupported: return "IMAGE_UNSUPPORTED";
    case DiskImageErrorCode::ReadOnly: return "IMAGE_READ_ONLY";
    case DiskImageErrorCode::OutOfRange: return "IMAGE_OUT_OF_RANGE";
    case DiskImageErrorCode::BackingChain: return "IMAGE_BACKING_CHAIN";
    case DiskImageErrorCode::AlreadyExists: return "IMAGE_EXISTS";
    case DiskImageErrorCode::InvalidArgument: return "IMAGE_INVALID_ARGUMENT";
    case DiskImageErrorCode::IoError: return "IMAGE_IO_ERROR";
  }
  return "IMAGE_UNKNOWN";
}

class DiskImageError : public std::runtime_error {
 public:
  DiskImageError(DiskImageErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  [[nodiscard]] DiskImageErrorCode code() const { return code_; }

 private:
  DiskImageErrorCode code_;
};

}  // namespace nestbox::block
