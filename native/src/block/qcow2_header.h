// The qcow2 header and its extensions, parsed and validated: every size and
// offset is checked against the format's limits and the file's size before any
// of it is used, so later code can index tables without re-checking.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "block/image_file.h"

namespace nestbox::block {

struct Qcow2FeatureName {
  std::uint8_t type = 0;  // 0 incompatible, 1 compatible, 2 autoclear
  std::uint8_t bit = 0;
  std::string name;
};

struct Qcow2Header {
  std::uint32_t version = 3;
  std::uint64_t backing_file_offset = 0;
  std::uint32_t backing_file_size = 0;
  std::uint32_t cluster_bits = 16;
  std::uint64_t size = 0;
  std::uint32_t crypt_method = 0;
  std::uint32_t l1_size = 0;
  std::uint64_t l1_table_offset = 0;
  std::uint64_t refcount_table_offset = 0;
  std::uint32_t refcount_table_clusters = 0;
  std::uint32_t nb_snapshots = 0;
  std::uint64_t snapshots_offset = 0;
  std::uint64_t incompatible_features = 0;
  std::uint64_t compatible_features = 0;
  std::uint64_t autoclear_features = 0;
  std::uint32_t refcount_order = 4;
  std::uint32_t header_length = 0;
  std::uint8_t compression_type = 0;

  std::string backing_file;    // as stored (may be relative)
  std::string backing_format;  // from the backing-format extension, or empty
  std::vector<Qcow2FeatureName> feature_names;

  [[nodiscard]] std::uint64_t cluster_size() const { return 1ull << cluster_bits; }
  [[nodiscard]] std::uint64_t l2_entries() const { return cluster_size() / 8; }
  [[nodiscard]] std::uint64_t refcounts_per_block() const {
    return (cluster_size() * 8) >> refcount_order;
  }
};

// Reads and validates the header of an open file. Throws DiskImageError:
// Corrupt for malformed/truncated headers, Unsupported for valid features we do
// not implement (each message names the feature), Unreadable on I/O errors.
Qcow2Header read_qcow2_header(const ImageFile& file);

// L1 entries needed for a virtual size (0 if it would overflow).
std::uint64_t qcow2_l1_entries_for(std::uint64_t virtual_size, std::uint32_t cluster_bits);

}  // namespace nestbox::block
