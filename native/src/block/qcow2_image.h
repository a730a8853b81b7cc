// A qcow2 disk image (QEMU docs/interop/qcow2.rst): version 3 read/write,
// version 2 read-only.
//
// Supported: backing files (qcow2 or raw, any depth, through open_disk_image),
// zero clusters, compressed clusters (deflate; zstd when compression_type = 1;
// a write to one re-allocates it), refcounts of any width (refcount_order 0..6)
// with refcount-table growth, copy-on-write from the backing file for partial
// cluster writes, write_zeroes as zero clusters, discard that frees clusters.
//
// Refused with a clear message: encryption, external data files, extended L2
// entries (subclusters), unknown incompatible feature bits (named), writes to
// version 2 images, writes to images with internal snapshots, writes to images
// with the corrupt bit set.
//
// Dirty bit: set (and synced) before the first change, cleared on a clean
// close(). Opening a dirty image for writing runs check(): if it finds only
// leaked clusters they are freed (a crash can leave those, nothing worse, given
// our write ordering) and the image opens; if it finds corruption the open is
// refused (read-only opens still work; `qemu-img check -r all` repairs).
//
// Crash safety / flush ordering: new data goes to newly allocated clusters;
// refcount increments reach the disk before any L2 entry pointing at them,
// data and refcounts are fdatasync'ed before L2 tables are written, and
// clusters are freed only after the L2 tables that stopped using them are
// durable. A crash therefore leaks clusters at worst.
//
// Threads: one mutex per image serialises every call (reads included).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "block/image_file.h"
#include "block/qcow2_header.h"
#include "block/qcow2_table_cache.h"

namespace nestbox::block {

struct Qcow2CheckResult {
  std::uint64_t corruptions = 0;
  std::uint64_t leaks = 0;
  // Clusters referenced by the active L1 table (data, incl. compressed) and the virtual total.
  std::uint64_t allocated_clusters = 0;
  std::uint64_t total_clusters = 0;
  std::uint64_t image_end_offset = 0;
  // The first problems found, one line each (at most 100).
  std::vector<std::string> messages;
  // Computed reference counts (for repairing leaks): index = host cluster.
  std::vector<std::uint64_t> references;

  // qemu-img check's exit status: 0 clean, 2 corruptions, 3 leaks only.
  [[nodiscard]] int exit_status() const { return corruptions > 0 ? 2 : (leaks > 0 ? 3 : 0); }
};

// Block status of a range of one qcow2 layer (see Qcow2Image::allocation_status).
struct Qcow2Allocation {
  // This image itself defines the content (data, compressed or zero clusters);
  // false: reads fall through to the backing chain (or read as zeroes without one).
  bool allocated = false;
  // Allocated as zero clusters: reads as zeroes whatever the backing file holds.
  bool zero = false;
  // Bytes from the queried offset for which the answer stays the same (>= 1).
  std::uint64_t length = 0;
};

struct Qcow2CreateOptions {
  std::uint64_t cluster_size = 64 * 1024;
  // Stored as given; a relative path is relative to the new image's folder.
  std::string backing_file;
  // "qcow2" or "raw"; empty: detected from the backing file.
  std::string backing_format;
};

class Qcow2Image final : public DiskImage {
 public:
  // Opens the backing file named by an image: (resolved path, format or "") → image.
  using BackingOpener = std::function<std::unique_ptr<DiskImage>(const std::string&, const std::string&)>;

  // `open_backing` may be empty: the backing chain is then not opened (check/info
  // of an image whose backing file is missing); reads of unallocated clusters
  // then fail.
  static std::unique_ptr<Qcow2Image> open(const std::string& path, const OpenOptions& options,
                                          const BackingOpener& open_backing);
  // Creates a new version 3 image (refuses to replace an existing file). With a
  // backing file and virtual_size 0 the backing file's size is used.
  static void create(const std::string& path, std::uint64_t virtual_size, const Qcow2CreateOptions& options);

  ~Qcow2Image() override;

  [[nodiscard]] ImageFormat format() const override { return ImageFormat::Qcow2; }
  [[nodiscard]] const std::string& path() const override { return path_; }
  [[nodiscard]] std::uint64_t virtual_size() const override { return header_.size; }
  [[nodiscard]] bool read_only() const override { return read_only_; }
  [[nodiscard]] const DiskImage* backing() const override { return backing_.get(); }
  [[nodiscard]] std::uint64_t allocated_bytes() const override { return file_.allocated_bytes(); }

  void read(std::uint64_t offset, std::span<std::uint8_t> out) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  void write_zeroes(std::uint64_t offset, std::uint64_t length) override;
  void discard(std::uint64_t offset, std::uint64_t length) override;
  void flush() override;
  void close() override;

  // Rebuilds the reference counts from the metadata and compares them with the
  // refcount blocks, like `qemu-img check` (no repair).
  Qcow2CheckResult check();

  // Which part of the range at `offset` this layer allocates itself, like QEMU's
  // block status, so layer merging copies only what a layer defines. Answers for
  // the run of clusters that share the state of the first one, at most
  // `max_length` bytes (at least 1) and never past the end of the disk.
  Qcow2Allocation allocation_status(std::uint64_t offset, std::uint64_t max_length);

  [[nodiscard]] const Qcow2Header& header() const { return header_; }
  [[nodiscard]] bool dirty() const { return (header_.incompatible_features & 1) != 0; }
  [[nodiscard]] bool corrupt() const { return (header_.incompatible_features & 2) != 0; }
  // The backing file's path as opened (resolved), or "".
  [[nodiscard]] const std::string& backing_path() const { return backing_path_; }

 private:
  Qcow2Image(ImageFile file, Qcow2Header header, bool read_only);

  enum class ClusterKind { Unallocated, Zero, Normal, Compressed };
  struct ClusterInfo {
    ClusterKind kind = ClusterKind::Unallocated;
    std::uint64_t entry = 0;
    std::uint64_t host = 0;            // Normal / Zero-with-allocation: cluster offset; Compressed: byte offset
    std::uint64_t compressed_size = 0; // Compressed only
  };

  // All below are called with mutex_ held.
  void check_range(std::uint64_t offset, std::uint64_t length) const;
  void check_writable();
  [[noreturn]] void fail_corrupt(const std::string& what);
  ClusterInfo lookup(std::uint64_t virtual_cluster);
  ClusterInfo decode_l2_entry(std::uint64_t entry) const;
  CachedTable& load_l2(std::uint64_t offset);
  CachedTable& load_refcount_block(std::uint64_t offset);
  void read_cluster_content(const ClusterInfo& info, std::uint64_t virtual_cluster, std::span<std::uint8_t> out);
  void read_backing(std::uint64_t offset, std::span<std::uint8_t> out);
  void read_compressed(const ClusterInfo& info, std::span<std::uint8_t> cluster);
  void write_cluster(std::uint64_t virtual_cluster, std::uint64_t in_cluster, std::span<const std::uint8_t> data);
  void set_l2_entry(std::uint64_t virtual_cluster, std::uint64_t entry);
  CachedTable& l2_for_write(std::uint64_t virtual_cluster, std::size_t& index);
  void zero_or_discard(std::uint64_t offset, std::uint64_t length, bool zeroes);
  void check_host_range(std::uint64_t host, std::uint64_t length);

  std::uint64_t get_refcount(std::uint64_t cluster);
  void set_refcount(std::uint64_t cluster, std::uint64_t value);
  void ensure_refcount_block(std::uint64_t block_index);
  void grow_refcount_table(std::uint64_t min_entries);
  std::uint64_t allocate_cluster();
  void free_clusters(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);

  void write_back_refcounts();
  void write_back_l2_tables();
  void write_back_table(CachedTable& table);
  void flush_locked();
  void mark_dirty();
  void write_incompatible_features(std::uint64_t features);
  void repair_leaks(const Qcow2CheckResult& result);
  Qcow2CheckResult check_locked();

  mutable std::mutex mutex_;
  ImageFile file_;
  std::string path_;
  Qcow2Header header_;
  bool read_only_;
  bool closed_ = false;
  bool poisoned_ = false;  // corrupt metadata found on a write path: no more writes
  bool marked_dirty_ = false;
  bool growing_refcount_table_ = false;
  std::uint64_t cluster_size_;
  std::unique_ptr<DiskImage> backing_;
  std::string backing_path_;
  std::vector<std::uint64_t> l1_;
  std::vector<std::uint64_t> refcount_table_;
  Qcow2TableCache l2_cache_{32};
  Qcow2TableCache refcount_cache_{16};
  std::uint64_t free_cluster_hint_ = 0;
  std::uint64_t file_end_ = 0;  // our idea of the file size (grows as we allocate)
  // The last decompressed cluster, keyed by its L2 entry.
  std::uint64_t decompressed_entry_ = 0;
  std::vector<std::uint8_t> decompressed_;
  // Host ranges (offset, length) to free once the L2 tables no longer pointing at them are durable.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pending_free_;
};

}  // namespace nestbox::block
