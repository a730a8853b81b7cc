// A raw disk image: the file's bytes are the disk. Reads and writes are positioned
// I/O without a lock (pread/pwrite are thread-safe); discard punches holes
// (falling back to writing zeroes on file systems without hole punching).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "block/disk_image.h"
#include "block/image_file.h"

namespace nestbox::block {

class RawImage final : public DiskImage {
 public:
  static std::unique_ptr<RawImage> open(const std::string& path, const OpenOptions& options);
  // Creates a sparse raw image of `size` bytes; refuses to replace an existing file.
  static void create(const std::string& path, std::uint64_t size);

  ~RawImage() override;

  [[nodiscard]] ImageFormat format() const override { return ImageFormat::Raw; }
  [[nodiscard]] const std::string& path() const override { return path_; }
  [[nodiscard]] std::uint64_t virtual_size() const override { return size_; }
  [[nodiscard]] bool read_only() const override { return read_only_; }
  [[nodiscard]] const DiskImage* backing() const override { return nullptr; }
  [[nodiscard]] std::uint64_t allocated_bytes() const override;

  void read(std::uint64_t offset, std::span<std::uint8_t> out) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  void write_zeroes(std::uint64_t offset, std::uint64_t length) override;
  void discard(std::uint64_t offset, std::uint64_t length) override;
  void flush() override;
  void close() override;

 private:
  RawImage(ImageFile file, std::uint64_t size, bool read_only);
  void check_range(std::uint64_t offset, std::uint64_t length) const;
  void check_writable() const;
  void check_open() const;

  ImageFile file_;
  std::string path_;
  std::uint64_t size_;
  bool read_only_;
  std::atomic<bool> closed_{false};
  std::mutex close_mutex_;
};

}  // namespace nestbox::block
