#include "block/qcow2_image.h"

#include <algorithm>
#include <filesystem>

#include "block/qcow2_compression.h"
#include "block/qcow2_format.h"
#include "common/hex.h"

namespace nestbox::block {

using namespace qcow2;

namespace {

std::string resolve_backing_path(const std::string& image_path, const std::string& backing) {
  const std::filesystem::path stored(backing);
  if (stored.is_absolute()) return backing;
  const std::filesystem::path folder = std::filesystem::path(image_path).parent_path();
  return folder.empty() ? backing : (folder / stored).string();
}

}  // namespace

std::unique_ptr<Qcow2Image> Qcow2Image::open(const std::string& path, const OpenOptions& options,
                                             const BackingOpener& open_backing) {
  ImageFile file = ImageFile::open(path, options.read_only);
  Qcow2Header header = read_qcow2_header(file);
  if (!options.read_only) {
    if (header.version == 2) {
      throw DiskImageError(DiskImageErrorCode::ReadOnly,
                           path + ": qcow2 version 2 (compat=0.10) images are read-only in Nestbox; "
                                  "upgrade it with `qemu-img amend -o compat=1.1 " + path + "`");
    }
    if (header.incompatible_features & kIncompatCorrupt) {
      throw DiskImageError(DiskImageErrorCode::Corrupt,
                           path + ": the image is marked corrupt; it can only be opened read-only "
                                  "(repair it with `qemu-img check -r all`)");
    }
    if (header.nb_snapshots > 0) {
      throw DiskImageError(DiskImageErrorCode::Unsupported,
                           path + ": the image has " + std::to_string(header.nb_snapshots) +
                               " internal snapshot(s); Nestbox can read it but not write it");
    }
  }

  std::unique_ptr<Qcow2Image> image(new Qcow2Image(std::move(file), std::move(header), options.read_only));
  const Qcow2Header& h = image->header_;

  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(h.l1_size) * 8);
  image->file_.read_exact(h.l1_table_offset, bytes, "L1 table");
  image->l1_.resize(h.l1_size);
  for (std::size_t i = 0; i < image->l1_.size(); ++i) image->l1_[i] = load_be64(&bytes[i * 8]);

  bytes.assign(static_cast<std::size_t>(h.refcount_table_clusters) * h.cluster_size(), 0);
  image->file_.read_exact(h.refcount_table_offset, bytes, "refcount table");
  image->refcount_table_.resize(bytes.size() / 8);
  for (std::size_t i = 0; i < image->refcount_table_.size(); ++i) {
    image->refcount_table_[i] = load_be64(&bytes[i * 8]);
  }

  if (!h.backing_file.empty() && open_backing) {
    image->backing_path_ = resolve_backing_path(path, h.backing_file);
    image->backing_ = open_backing(image->backing_path_, h.backing_format);
  }

  if (!options.read_only && (h.incompatible_features & kIncompatDirty)) {
    std::lock_guard lock(image->mutex_);
    const Qcow2CheckResult result = image->check_locked();
    if (result.corruptions > 0) {
      throw DiskImageError(DiskImageErrorCode::Corrupt,
                           path + ": the image was not closed cleanly and its metadata is inconsistent (" +
                               std::to_string(result.corruptions) +
                               " errors); open it read-only, or repair it with `qemu-img check -r all`");
    }
    image->repair_leaks(result);
  }
  return image;
}

Qcow2Image::Qcow2Image(ImageFile file, Qcow2Header header, bool read_only)
    : file_(std::move(file)),
      path_(file_.path()),
      header_(std::move(header)),
      read_only_(read_only),
      cluster_size_(header_.cluster_size()) {
  file_end_ = file_.size();
}

Qcow2Image::~Qcow2Image() {
  try {
    close();
  } catch (...) {
    // A destructor cannot report; close() explicitly to learn about failures.
  }
}

// ---------------------------------------------------------------------------
// Checks and errors

void Qcow2Image::check_range(std::uint64_t offset, std::uint64_t length) const {
  if (closed_) throw DiskImageError(DiskImageErrorCode::InvalidArgument, path_ + ": image is closed");
  if (offset > header_.size || length > header_.size - offset) {
    throw DiskImageError(DiskImageErrorCode::OutOfRange,
                         path_ + ": access at " + std::to_string(offset) + "+" + std::to_string(length) +
                             " beyond the disk size " + std::to_string(header_.size));
  }
}

void Qcow2Image::check_writable() {
  if (read_only_) throw DiskImageError(DiskImageErrorCode::ReadOnly, path_ + ": image is open read-only");
  if (poisoned_) {
    throw DiskImageError(DiskImageErrorCode::Corrupt,
                         path_ + ": writes stopped after corrupt metadata was found; run `nestbox image check`");
  }
}

void Qcow2Image::fail_corrupt(const std::string& what) {
  // Stop writing, but never touch the file's metadata to say so: a corrupt
  // image must not be changed further.
  if (!read_only_) poisoned_ = true;
  throw DiskImageError(DiskImageErrorCode::Corrupt,
                       path_ + ": corrupt qcow2 image: " + what + " (run `nestbox image check`)");
}

void Qcow2Image::check_host_range(std::uint64_t host, std::uint64_t length) {
  auto overlaps = [&](std::uint64_t start, std::uint64_t size) {
    return host < start + size && start < host + length;
  };
  if (host < cluster_size_ || host > kOffsetMask) fail_corrupt("cluster offset " + to_hex(host) + " is invalid");
  if (overlaps(header_.l1_table_offset, std::uint64_t{header_.l1_size} * 8) ||
      overlaps(header_.refcount_table_offset, std::uint64_t{header_.refcount_table_clusters} * cluster_size_)) {
    fail_corrupt("cluster at " + to_hex(host) + " overlaps the L1 or refcount table");
  }
}

// ---------------------------------------------------------------------------
// Metadata tables

CachedTable& Qcow2Image::load_l2(std::uint64_t offset) {
  if (CachedTable* cached = l2_cache_.find(offset)) return *cached;
  CachedTable& slot = l2_cache_.victim();
  if (slot.dirty) write_back_table(slot);
  slot.data.assign(cluster_size_, 0);
  slot.offset = 0;
  slot.dirty = false;
  try {
    file_.read_exact(offset, slot.data, "L2 table");
  } catch (...) {
    slot.data.clear();
    throw;
  }
  slot.offset = offset;
  l2_cache_.touch(slot);
  return slot;
}

CachedTable& Qcow2Image::load_refcount_block(std::uint64_t offset) {
  if (CachedTable* cached = refcount_cache_.find(offset)) return *cached;
  CachedTable& slot = refcount_cache_.victim();
  if (slot.dirty) {
    file_.write_all(slot.offset, slot.data);
    slot.dirty = false;
  }
  slot.data.assign(cluster_size_, 0);
  slot.offset = 0;
  try {
    file_.read_exact(offset, slot.data, "refcount block");
  } catch (...) {
    slot.data.clear();
    throw;
  }
  slot.offset = offset;
  refcount_cache_.touch(slot);
  return slot;
}

void Qcow2Image::write_back_refcounts() {
  for (CachedTable& table : refcount_cache_.tables()) {
    if (table.dirty) {
      file_.write_all(table.offset, table.data);
      table.dirty = false;
    }
  }
}

void Qcow2Image::write_back_table(CachedTable& l2_table) {
  // The data and the refcounts of every cluster this table points at must be on
  // disk before the table is.
  write_back_refcounts();
  file_.sync_data();
  file_.write_all(l2_table.offset, l2_table.data);
  l2_table.dirty = false;
}

void Qcow2Image::write_back_l2_tables() {
  const bool any_dirty = std::any_of(l2_cache_.tables().begin(), l2_cache_.tables().end(),
                                     [](const CachedTable& t) { return t.dirty; });
  write_back_refcounts();
  if (!any_dirty) return;
  file_.sync_data();
  for (CachedTable& table : l2_cache_.tables()) {
    if (table.dirty) {
      file_.write_all(table.offset, table.data);
      table.dirty = false;
    }
  }
}

// ---------------------------------------------------------------------------
// Lookup and read

Qcow2Image::ClusterInfo Qcow2Image::decode_l2_entry(std::uint64_t entry) const {
  ClusterInfo info;
  info.entry = entry;
  if (entry & kFlagCompressed) {
    const std::uint32_t shift = 62 - (header_.cluster_bits - 8);
    info.kind = ClusterKind::Compressed;
    info.host = entry & ((1ull << shift) - 1);
    const std::uint64_t sectors = ((entry >> shift) & ((1ull << (header_.cluster_bits - 8)) - 1)) + 1;
    info.compressed_size = sectors * 512 - (info.host & 511);
    return info;
  }
  info.host = entry & kOffsetMask;
  if (header_.version >= 3 && (entry & kFlagZero)) {
    info.kind = ClusterKind::Zero;
  } else if (info.host != 0) {
    info.kind = ClusterKind::Normal;
  }
  return info;
}

Qcow2Image::ClusterInfo Qcow2Image::lookup(std::uint64_t virtual_cluster) {
  const std::uint64_t l2_entries = header_.l2_entries();
  const std::uint64_t l1_index = virtual_cluster / l2_entries;
  if (l1_index >= l1_.size()) return {};
  const std::uint64_t l2_offset = l1_[l1_index] & kOffsetMask;
  if (l2_offset == 0) return {};
  if (l2_offset & (cluster_size_ - 1)) {
    fail_corrupt("L1 entry " + std::to_string(l1_index) + " points at an unaligned L2 table (" + to_hex(l2_offset) + ")");
  }
  CachedTable& table = load_l2(l2_offset);
  const std::uint64_t entry = load_be64(&table.data[(virtual_cluster % l2_entries) * 8]);
  ClusterInfo info = decode_l2_entry(entry);
  if ((info.kind == ClusterKind::Normal || info.kind == ClusterKind::Zero) && (info.host & (cluster_size_ - 1))) {
    fail_corrupt("L2 entry for guest offset " + to_hex(virtual_cluster * cluster_size_) +
                 " points at an unaligned cluster (" + to_hex(info.host) + ")");
  }
  return info;
}

void Qcow2Image::read_backing(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (!backing_) {
    if (!header_.backing_file.empty()) {
      throw DiskImageError(DiskImageErrorCode::BackingChain,
                           path_ + ": the backing file " + header_.backing_file + " is not open");
    }
    std::fill(out.begin(), out.end(), 0);
    return;
  }
  const std::uint64_t backing_size = backing_->virtual_size();
  std::size_t n = 0;
  if (offset < backing_size) n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), backing_size - offset));
  if (n > 0) backing_->read(offset, out.first(n));
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), 0);
}

void Qcow2Image::read_compressed(const ClusterInfo& info, std::span<std::uint8_t> cluster) {
  if (decompressed_entry_ == info.entry && decompressed_.size() == cluster_size_) {
    std::copy(decompressed_.begin(), decompressed_.end(), cluster.begin());
    return;
  }
  if (info.host < cluster_size_) fail_corrupt("compressed cluster at " + to_hex(info.host) + " overlaps the header");
  std::vector<std::uint8_t> stored(static_cast<std::size_t>(info.compressed_size));
  const std::size_t got = file_.read_some(info.host, stored);
  if (!qcow2_decompress(header_.compression_type, std::span<const std::uint8_t>(stored.data(), got), cluster)) {
    fail_corrupt("the compressed cluster at " + to_hex(info.host) + " cannot be decompressed");
  }
  decompressed_.assign(cluster.begin(), cluster.end());
  decompressed_entry_ = info.entry;
}

void Qcow2Image::read_cluster_content(const ClusterInfo& info, std::uint64_t virtual_cluster,
                                      std::span<std::uint8_t> out) {
  switch (info.kind) {
    case ClusterKind::Unallocated: read_backing(virtual_cluster * cluster_size_, out); return;
    case ClusterKind::Zero: std::fill(out.begin(), out.end(), 0); return;
    case ClusterKind::Compressed: read_compressed(info, out); return;
    case ClusterKind::Normal: file_.read_exact(info.host, out, "data cluster"); return;
  }
}

void Qcow2Image::read(std::uint64_t offset, std::span<std::uint8_t> out) {
  std::lock_guard lock(mutex_);
  check_range(offset, out.size());
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t position = offset + done;
    const std::uint64_t virtual_cluster = position / cluster_size_;
    const std::uint64_t in_cluster = position % cluster_size_;
    std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, cluster_size_ - in_cluster));
    const ClusterInfo info = lookup(virtual_cluster);
    switch (info.kind) {
      case ClusterKind::Normal: {
        // Coalesce clusters that are contiguous in the file into one read.
        std::uint64_t next = virtual_cluster + 1;
        while (done + length < out.size()) {
          const ClusterInfo following = lookup(next);
          if (following.kind != ClusterKind::Normal ||
              following.host != info.host + (next - virtual_cluster) * cluster_size_) {
            break;
          }
          length += static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done - length, cluster_size_));
          ++next;
        }
        file_.read_exact(info.host + in_cluster, out.subspan(done, length), "data cluster");
        break;
      }
      case ClusterKind::Zero: std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(done), length, 0); break;
      case ClusterKind::Unallocated: read_backing(position, out.subspan(done, length)); break;
      case ClusterKind::Compressed: {
        std::vector<std::uint8_t> cluster(cluster_size_);
        read_compressed(info, cluster);
        std::copy_n(cluster.begin() + static_cast<std::ptrdiff_t>(in_cluster), length,
                    out.begin() + static_cast<std::ptrdiff_t>(done));
        break;
      }
    }
    done += length;
  }
}

Qcow2Allocation Qcow2Image::allocation_status(std::uint64_t offset, std::uint64_t max_length) {
  std::lock_guard lock(mutex_);
  check_range(offset, 1);
  const std::uint64_t end = offset + std::clamp<std::uint64_t>(max_length, 1, header_.size - offset);
  const std::uint64_t l2_entries = header_.l2_entries();
  auto state = [](ClusterKind kind) {
    return kind == ClusterKind::Unallocated ? 0 : (kind == ClusterKind::Zero ? 1 : 2);
  };
  std::uint64_t cluster = offset / cluster_size_;
  const int first = state(lookup(cluster).kind);
  std::uint64_t position = (cluster + 1) * cluster_size_;
  while (position < end) {
    ++cluster;
    if (first == 0 && cluster % l2_entries == 0 && cluster / l2_entries < l1_.size() &&
        (l1_[cluster / l2_entries] & kOffsetMask) == 0) {
      // No L2 table: the whole range it would map is unallocated.
      position = (cluster + l2_entries) * cluster_size_;
      cluster += l2_entries - 1;
      continue;
    }
    if (state(lookup(cluster).kind) != first) break;
    position += cluster_size_;
  }
  return {.allocated = first != 0, .zero = first == 1, .length = std::min(position, end) - offset};
}

// ---------------------------------------------------------------------------
// Refcounts and allocation

std::uint64_t Qcow2Image::get_refcount(std::uint64_t cluster) {
  const std::uint64_t per_block = header_.refcounts_per_block();
  const std::uint64_t block_index = cluster / per_block;
  if (block_index >= refcount_table_.size()) return 0;
  const std::uint64_t block_offset = refcount_table_[block_index] & kRefcountTableOffsetMask;
  if (block_offset == 0) return 0;
  if (block_offset & (cluster_size_ - 1)) {
    fail_corrupt("refcount table entry " + std::to_string(block_index) + " is unaligned (" + to_hex(block_offset) + ")");
  }
  const CachedTable& block = load_refcount_block(block_offset);
  return load_refcount(block.data.data(), header_.refcount_order, cluster % per_block);
}

void Qcow2Image::set_refcount(std::uint64_t cluster, std::uint64_t value) {
  const std::uint32_t bits = 1u << header_.refcount_order;
  const std::uint64_t max = bits == 64 ? ~0ull : (1ull << bits) - 1;
  if (value > max) {
    throw DiskImageError(DiskImageErrorCode::IoError,
                         path_ + ": refcount overflow for cluster " + std::to_string(cluster));
  }
  const std::uint64_t per_block = header_.refcounts_per_block();
  const std::uint64_t block_index = cluster / per_block;
  ensure_refcount_block(block_index);
  CachedTable& block = load_refcount_block(refcount_table_[block_index] & kRefcountTableOffsetMask);
  store_refcount(block.data.data(), header_.refcount_order, cluster % per_block, value);
  block.dirty = true;
}

void Qcow2Image::ensure_refcount_block(std::uint64_t block_index) {
  if (block_index >= refcount_table_.size()) {
    if (growing_refcount_table_) {
      throw DiskImageError(DiskImageErrorCode::IoError, path_ + ": refcount table growth did not converge");
    }
    grow_refcount_table(block_index + 1);
  }
  if ((refcount_table_[block_index] & kRefcountTableOffsetMask) != 0) return;
  // Without a block every cluster in its range is free, so the new block can take
  // the first cluster of the range it describes and count itself.
  const std::uint64_t cluster = block_index * header_.refcounts_per_block();
  const std::uint64_t host = cluster * cluster_size_;
  check_host_range(host, cluster_size_);
  std::vector<std::uint8_t> block(cluster_size_, 0);
  store_refcount(block.data(), header_.refcount_order, 0, 1);
  file_.write_all(host, block);
  file_end_ = std::max(file_end_, host + cluster_size_);
  file_.sync_data();
  refcount_table_[block_index] = host;
  if (!growing_refcount_table_) {
    std::uint8_t entry[8];
    store_be64(entry, host);
    file_.write_all(header_.refcount_table_offset + block_index * 8, entry);
  }
}

void Qcow2Image::grow_refcount_table(std::uint64_t min_entries) {
  const std::uint64_t entries_per_cluster = cluster_size_ / 8;
  std::uint64_t entries = std::max<std::uint64_t>(min_entries, refcount_table_.size() * 2) + entries_per_cluster;
  entries = (entries + entries_per_cluster - 1) / entries_per_cluster * entries_per_cluster;
  const std::uint64_t clusters = entries / entries_per_cluster;
  if (clusters * cluster_size_ > kMaxRefcountTableBytes) {
    throw DiskImageError(DiskImageErrorCode::IoError, path_ + ": the refcount table cannot grow beyond 8 MiB");
  }
  const std::uint64_t old_offset = header_.refcount_table_offset;
  const std::uint64_t old_clusters = header_.refcount_table_clusters;
  const std::size_t old_entries = refcount_table_.size();
  refcount_table_.resize(entries, 0);
  growing_refcount_table_ = true;
  try {
    const std::uint64_t per_block = header_.refcounts_per_block();
    std::uint64_t start = 0;
    // Put the new table past the end of the file, once refcount blocks for its
    // clusters exist (creating one moves the end of the file, hence the loop).
    for (bool ready = false; !ready;) {
      start = (file_end_ + cluster_size_ - 1) / cluster_size_;
      ready = true;
      for (std::uint64_t c = start; c < start + clusters; ++c) {
        if ((refcount_table_.at(c / per_block) & kRefcountTableOffsetMask) == 0) {
          ensure_refcount_block(c / per_block);
          ready = false;
          break;
        }
      }
    }
    for (std::uint64_t c = start; c < start + clusters; ++c) {
      if (get_refcount(c) != 0) fail_corrupt("cluster past the end of the file is in use");
      set_refcount(c, 1);
    }
    std::vector<std::uint8_t> table(clusters * cluster_size_, 0);
    for (std::size_t i = 0; i < refcount_table_.size(); ++i) store_be64(&table[i * 8], refcount_table_[i]);
    file_.write_all(start * cluster_size_, table);
    file_end_ = std::max(file_end_, (start + clusters) * cluster_size_);
    write_back_refcounts();
    file_.sync_data();
    std::uint8_t fields[12];
    store_be64(fields, start * cluster_size_);
    store_be32(fields + 8, static_cast<std::uint32_t>(clusters));
    file_.write_all(kOffRefcountTableOffset, fields);
    file_.sync_data();
    header_.refcount_table_offset = start * cluster_size_;
    header_.refcount_table_clusters = static_cast<std::uint32_t>(clusters);
  } catch (...) {
    growing_refcount_table_ = false;
    if (header_.refcount_table_offset == old_offset) refcount_table_.resize(old_entries);
    throw;
  }
  growing_refcount_table_ = false;
  // The old table is no longer referenced by the (synced) header.
  for (std::uint64_t c = old_offset / cluster_size_; c < old_offset / cluster_size_ + old_clusters; ++c) {
    const std::uint64_t count = get_refcount(c);
    if (count > 0) set_refcount(c, count - 1);
    if (count == 1) free_cluster_hint_ = std::min(free_cluster_hint_, c);
  }
}

std::uint64_t Qcow2Image::allocate_cluster() {
  for (;;) {
    std::uint64_t cluster = std::max<std::uint64_t>(free_cluster_hint_, 1);
    while (get_refcount(cluster) != 0) ++cluster;
    ensure_refcount_block(cluster / header_.refcounts_per_block());
    if (get_refcount(cluster) != 0) {
      free_cluster_hint_ = cluster + 1;
      continue;
    }
    const std::uint64_t host = cluster * cluster_size_;
    check_host_range(host, cluster_size_);
    set_refcount(cluster, 1);
    free_cluster_hint_ = cluster + 1;
    return host;
  }
}

void Qcow2Image::free_clusters(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
  if (ranges.empty()) return;
  // The L2 tables that stopped pointing at these clusters must be durable first.
  write_back_l2_tables();
  file_.sync_data();
  decompressed_entry_ = 0;
  decompressed_.clear();
  for (const auto& [offset, length] : ranges) {
    const std::uint64_t first = offset / cluster_size_;
    const std::uint64_t last = (offset + length - 1) / cluster_size_;
    for (std::uint64_t c = first; c <= last; ++c) {
      const std::uint64_t count = get_refcount(c);
      if (count == 0) fail_corrupt("freeing cluster " + to_hex(c * cluster_size_) + " whose refcount is already 0");
      set_refcount(c, count - 1);
      if (count == 1) {
        free_cluster_hint_ = std::min(free_cluster_hint_, c);
        if (length >= cluster_size_ && offset % cluster_size_ == 0) {
          file_.punch_hole(c * cluster_size_, cluster_size_);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Write

void Qcow2Image::mark_dirty() {
  if (marked_dirty_) return;
  write_incompatible_features(header_.incompatible_features | kIncompatDirty);
  if (header_.autoclear_features != 0) {
    // We maintain none of the autoclear features (e.g. bitmaps): the spec asks a
    // writer that does not to clear them.
    std::uint8_t zero[8] = {};
    file_.write_all(kOffAutoclearFeatures, zero);
    header_.autoclear_features = 0;
  }
  file_.sync_data();
  marked_dirty_ = true;
}

void Qcow2Image::write_incompatible_features(std::uint64_t features) {
  std::uint8_t field[8];
  store_be64(field, features);
  file_.write_all(kOffIncompatibleFeatures, field);
  header_.incompatible_features = features;
}

CachedTable& Qcow2Image::l2_for_write(std::uint64_t virtual_cluster, std::size_t& index) {
  const std::uint64_t l2_entries = header_.l2_entries();
  const std::uint64_t l1_index = virtual_cluster / l2_entries;
  index = static_cast<std::size_t>(virtual_cluster % l2_entries);
  const std::uint64_t l1_entry = l1_[l1_index];
  const std::uint64_t l2_offset = l1_entry & kOffsetMask;
  if (l2_offset != 0) {
    if (!(l1_entry & kFlagCopied)) {
      fail_corrupt("L2 table " + std::to_string(l1_index) + " is shared (no COPIED flag) in an image without snapshots");
    }
    check_host_range(l2_offset, cluster_size_);
    return load_l2(l2_offset);
  }
  // A new, zeroed L2 table; it and its refcount are durable before L1 points at it.
  const std::uint64_t host = allocate_cluster();
  std::vector<std::uint8_t> zeroes(cluster_size_, 0);
  file_.write_all(host, zeroes);
  file_end_ = std::max(file_end_, host + cluster_size_);
  write_back_refcounts();
  file_.sync_data();
  std::uint8_t entry[8];
  store_be64(entry, host | kFlagCopied);
  file_.write_all(header_.l1_table_offset + l1_index * 8, entry);
  l1_[l1_index] = host | kFlagCopied;
  return load_l2(host);
}

void Qcow2Image::set_l2_entry(std::uint64_t virtual_cluster, std::uint64_t entry) {
  std::size_t index = 0;
  CachedTable& table = l2_for_write(virtual_cluster, index);
  store_be64(&table.data[index * 8], entry);
  table.dirty = true;
}

void Qcow2Image::write_cluster(std::uint64_t virtual_cluster, std::uint64_t in_cluster,
                               std::span<const std::uint8_t> data) {
  const ClusterInfo info = lookup(virtual_cluster);
  if (info.kind == ClusterKind::Normal) {
    if (!(info.entry & kFlagCopied)) {
      fail_corrupt("data cluster " + to_hex(info.host) + " is shared (no COPIED flag) in an image without snapshots");
    }
    check_host_range(info.host, cluster_size_);
    file_.write_all(info.host + in_cluster, data);
    return;
  }
  const bool whole = in_cluster == 0 && data.size() == cluster_size_;
  std::vector<std::uint8_t> buffer;
  if (!whole) {
    buffer.assign(cluster_size_, 0);
    if (info.kind == ClusterKind::Unallocated || info.kind == ClusterKind::Compressed) {
      // Copy-on-write: the rest of the cluster keeps what the guest saw before.
      // The last cluster may extend past the virtual size: read only what exists.
      const std::uint64_t start = virtual_cluster * cluster_size_;
      const std::size_t visible = static_cast<std::size_t>(std::min<std::uint64_t>(cluster_size_, header_.size - start));
      if (info.kind == ClusterKind::Unallocated) {
        read_backing(start, std::span<std::uint8_t>(buffer.data(), visible));
      } else {
        read_compressed(info, buffer);
      }
    }
    std::copy(data.begin(), data.end(), buffer.begin() + static_cast<std::ptrdiff_t>(in_cluster));
  }
  const std::span<const std::uint8_t> content = whole ? data : std::span<const std::uint8_t>(buffer);

  if (info.kind == ClusterKind::Zero && info.host != 0 && (info.entry & kFlagCopied)) {
    // A preallocated zero cluster: reuse its storage.
    check_host_range(info.host, cluster_size_);
    file_.write_all(info.host, content);
    set_l2_entry(virtual_cluster, info.host | kFlagCopied);
    return;
  }
  const std::uint64_t host = allocate_cluster();
  file_.write_all(host, content);
  file_end_ = std::max(file_end_, host + cluster_size_);
  set_l2_entry(virtual_cluster, host | kFlagCopied);
  if (info.kind == ClusterKind::Compressed) pending_free_.emplace_back(info.host, info.compressed_size);
}

void Qcow2Image::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::lock_guard lock(mutex_);
  check_range(offset, data.size());
  check_writable();
  if (data.empty()) return;
  mark_dirty();
  pending_free_.clear();
  std::size_t done = 0;
  while (done < data.size()) {
    const std::uint64_t position = offset + done;
    const std::uint64_t in_cluster = position % cluster_size_;
    const std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(data.size() - done, cluster_size_ - in_cluster));
    write_cluster(position / cluster_size_, in_cluster, data.subspan(done, length));
    done += length;
  }
  auto frees = std::move(pending_free_);
  pending_free_.clear();
  free_clusters(frees);
}

void Qcow2Image::zero_or_discard(std::uint64_t offset, std::uint64_t length, bool zeroes) {
  std::lock_guard lock(mutex_);
  check_range(offset, length);
  check_writable();
  if (length == 0) return;
  mark_dirty();
  pending_free_.clear();
  const std::uint64_t end = offset + length;
  // Whole clusters become zero clusters (or unallocated); partial ones at either
  // end are written with zero bytes (write_zeroes) or left alone (discard). The
  // last cluster counts as whole when the range reaches the end of the disk.
  std::uint64_t first_whole = (offset + cluster_size_ - 1) / cluster_size_;
  std::uint64_t end_whole = end == header_.size ? (end + cluster_size_ - 1) / cluster_size_ : end / cluster_size_;
  if (first_whole >= end_whole) {
    first_whole = end_whole = 0;
  }
  if (zeroes) {
    const std::vector<std::uint8_t> zero_bytes(cluster_size_, 0);
    auto zero_partial = [&](std::uint64_t from, std::uint64_t to) {
      while (from < to) {
        const std::uint64_t in_cluster = from % cluster_size_;
        const std::uint64_t n = std::min(to - from, cluster_size_ - in_cluster);
        write_cluster(from / cluster_size_, in_cluster,
                      std::span<const std::uint8_t>(zero_bytes.data(), static_cast<std::size_t>(n)));
        from += n;
      }
    };
    if (first_whole == end_whole) {
      zero_partial(offset, end);
    } else {
      zero_partial(offset, std::min(end, first_whole * cluster_size_));
      zero_partial(std::max(offset, end_whole * cluster_size_), end);
    }
  }
  const bool has_backing = !header_.backing_file.empty();
  // Over a backing file "reads as zero" needs the zero flag; without one an
  // unallocated cluster already reads as zero.
  const std::uint64_t new_entry = (zeroes || has_backing) ? kFlagZero : 0;
  const std::uint64_t l2_entries = header_.l2_entries();
  for (std::uint64_t vc = first_whole; vc < end_whole; ++vc) {
    if (!has_backing && (l1_[vc / l2_entries] & kOffsetMask) == 0) {
      vc = (vc / l2_entries + 1) * l2_entries - 1;  // no L2 table: all of it already reads as zero
      continue;
    }
    const ClusterInfo info = lookup(vc);
    if (info.kind == ClusterKind::Unallocated && (new_entry == 0 || !has_backing)) continue;
    if (info.kind == ClusterKind::Zero && info.host == 0) continue;
    if (info.kind == ClusterKind::Normal || (info.kind == ClusterKind::Zero && info.host != 0)) {
      if (!(info.entry & kFlagCopied)) fail_corrupt("data cluster " + to_hex(info.host) + " is shared (no COPIED flag)");
      pending_free_.emplace_back(info.host, cluster_size_);
    } else if (info.kind == ClusterKind::Compressed) {
      pending_free_.emplace_back(info.host, info.compressed_size);
    }
    set_l2_entry(vc, new_entry);
  }
  auto frees = std::move(pending_free_);
  pending_free_.clear();
  free_clusters(frees);
}

void Qcow2Image::write_zeroes(std::uint64_t offset, std::uint64_t length) { zero_or_discard(offset, length, true); }

void Qcow2Image::discard(std::uint64_t offset, std::uint64_t length) { zero_or_discard(offset, length, false); }

// ---------------------------------------------------------------------------
// Flush and close

void Qcow2Image::flush_locked() {
  write_back_l2_tables();
  file_.sync_data();
}

void Qcow2Image::flush() {
  std::lock_guard lock(mutex_);
  if (closed_) throw DiskImageError(DiskImageErrorCode::InvalidArgument, path_ + ": image is closed");
  if (!read_only_) flush_locked();
}

void Qcow2Image::close() {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  closed_ = true;
  try {
    if (!read_only_ && marked_dirty_) {
      flush_locked();
      if (!poisoned_) {
        // Only a fully consistent image is marked clean.
        write_incompatible_features(header_.incompatible_features & ~kIncompatDirty);
        file_.sync_data();
      }
    }
  } catch (...) {
    file_.close();
    if (backing_) backing_->close();
    throw;
  }
  file_.close();
  l2_cache_.clear();
  refcount_cache_.clear();
  if (backing_) backing_->close();
}

void Qcow2Image::repair_leaks(const Qcow2CheckResult& result) {
  for (std::uint64_t c = 0; c < result.references.size(); ++c) {
    const std::uint64_t count = get_refcount(c);
    if (count > result.references[c]) {
      set_refcount(c, result.references[c]);
      if (result.references[c] == 0) free_cluster_hint_ = std::min(free_cluster_hint_, c);
    }
  }
  write_back_refcounts();
  file_.sync_data();
  write_incompatible_features(header_.incompatible_features & ~kIncompatDirty);
  file_.sync_data();
}

}  // namespace nestbox::block
