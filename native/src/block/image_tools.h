// The operations behind `nestbox image create|info|check`, as plain C++ so they
// are testable without N-API: whole-file tasks built on open_disk_image.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "block/qcow2_image.h"

namespace nestbox::block {

struct CreateImageRequest {
  std::string path;
  ImageFormat format = ImageFormat::Qcow2;
  // 0 with a backing file: the backing file's size.
  std::uint64_t virtual_size = 0;
  std::uint64_t cluster_size = 64 * 1024;
  std::string backing_file;    // qcow2 only
  std::string backing_format;  // "", "qcow2" or "raw"
};

// Refuses to replace an existing file.
void create_disk_image(const CreateImageRequest& request);

struct ChainEntry {
  std::string path;
  ImageFormat format = ImageFormat::Raw;
  std::uint64_t virtual_size = 0;
};

struct DiskImageInfo {
  std::string path;
  ImageFormat format = ImageFormat::Raw;
  std::uint64_t virtual_size = 0;
  std::uint64_t allocated_bytes = 0;  // on the host file system, this file only
  std::uint64_t file_size = 0;
  // qcow2 only:
  std::uint64_t cluster_size = 0;
  std::uint32_t version = 0;
  std::uint32_t refcount_bits = 0;
  std::string compression;  // "deflate" / "zstd"
  bool dirty = false;
  bool corrupt = false;
  std::uint32_t snapshots = 0;
  std::string backing_file;          // as stored in the image
  std::string backing_format;        // as stored in the image
  std::vector<ChainEntry> backing_chain;  // resolved, top-down, excluding this image
  std::string backing_error;         // why the chain could not be opened, if it could not
};

DiskImageInfo describe_disk_image(const std::string& path);

struct ImageCheckReport {
  ImageFormat format = ImageFormat::Raw;
  Qcow2CheckResult result;  // empty for raw images (nothing to check)
};

// Checks one image file (not its backing files). Throws if it cannot be opened.
ImageCheckReport check_disk_image(const std::string& path);

// Parses "10G", "512M", "1.5T", "4096" (bytes), "64K" (binary units). Throws InvalidArgument.
std::uint64_t parse_image_size(const std::string& text);

}  // namespace nestbox::block
