// The disk-image capability interface: what a block device (virtio-blk) needs
// from a disk, whatever the format behind it. Formats live behind it (raw_image,
// qcow2_image) in the spirit of Cloud Hypervisor's block/src/disk_file.rs.
//
// Byte addressing: offsets and lengths are in bytes of the guest-visible disk
// (the "virtual" disk), any alignment. An access that does not fit in
// [0, virtual_size()) throws DiskImageError(OutOfRange) and does nothing.
//
// Errors: every failure throws DiskImageError (disk_image_error.h). A corrupt
// image is never "repaired" behind the user's back, and once a write path has
// found corrupt metadata the image refuses further writes (reads still work
// where the metadata is sound).
//
// Thread safety: every method may be called from any thread, concurrently
// (virtio-blk calls from an I/O worker pool). Implementations serialise with one
// mutex per image today (raw images use positioned I/O without a lock for
// read/write); a finer scheme can come later behind the same interface. The
// backing image belongs to its overlay and is only used under the overlay's lock.
//
// Lifetime: the destructor flushes and closes cleanly (for qcow2, clears the
// dirty bit) but cannot report errors; call close() to learn whether that worked.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "block/disk_image_error.h"

namespace nestbox::block {

enum class ImageFormat { Raw, Qcow2 };

constexpr const char* image_format_name(ImageFormat format) {
  return format == ImageFormat::Qcow2 ? "qcow2" : "raw";
}

struct OpenOptions {
  // Open without write access. Backing files are always opened read-only.
  bool read_only = false;
};

class DiskImage {
 public:
  virtual ~DiskImage() = default;
  DiskImage(const DiskImage&) = delete;
  DiskImage& operator=(const DiskImage&) = delete;

  [[nodiscard]] virtual ImageFormat format() const = 0;
  // The path the image was opened with (for backing files: resolved against the overlay).
  [[nodiscard]] virtual const std::string& path() const = 0;
  // The guest-visible size in bytes.
  [[nodiscard]] virtual std::uint64_t virtual_size() const = 0;
  [[nodiscard]] virtual bool read_only() const = 0;
  // The next image down the backing chain, or nullptr.
  [[nodiscard]] virtual const DiskImage* backing() const = 0;
  // Bytes the image file occupies on the host file system (st_blocks), this layer only.
  [[nodiscard]] virtual std::uint64_t allocated_bytes() const = 0;

  // Fills `out` with the bytes at `offset`. Unallocated ranges read from the backing
  // chain, or as zeroes.
  virtual void read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  // Throws ReadOnly on a read-only image.
  virtual void write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
  // Afterwards the range reads as zeroes (whatever the backing file holds).
  virtual void write_zeroes(std::uint64_t offset, std::uint64_t length) = 0;
  // A hint that the range is unused: storage may be released. Afterwards the range
  // reads as zeroes or as its old contents (never as another part of the disk).
  virtual void discard(std::uint64_t offset, std::uint64_t length) = 0;
  // Makes every completed write durable (data before the metadata that points at it).
  virtual void flush() = 0;
  // Flushes, marks the image clean and releases the file. Idempotent; after it every
  // other I/O method throws.
  virtual void close() = 0;

 protected:
  DiskImage() = default;
};

// Opens `path`, detecting the format (qcow2 by its magic, raw otherwise), and its
// whole backing chain (relative backing paths are resolved against the directory of
// the image naming them; qcow2 or raw at any level; loops refused).
std::unique_ptr<DiskImage> open_disk_image(const std::string& path, const OpenOptions& options = {});

// The format of the file at `path` by its first bytes (no validation beyond that).
ImageFormat probe_image_format(const std::string& path);

}  // namespace nestbox::block
