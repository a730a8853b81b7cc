// Qcow2Image::check(): rebuilds every cluster's reference count from the
// metadata (header, L1/L2 tables of the active state and of internal snapshots,
// the refcount structures themselves) and compares it with the stored refcounts,
// as `qemu-img check` does. Reads the file directly, never trusting a table
// before its offset has been validated, and never writes.
#include <algorithm>
#include <set>

#include "block/qcow2_format.h"
#include "block/qcow2_image.h"
#include "common/hex.h"

namespace nestbox::block {

using namespace qcow2;

Qcow2CheckResult Qcow2Image::check() {
  std::lock_guard lock(mutex_);
  if (closed_) throw DiskImageError(DiskImageErrorCode::InvalidArgument, path_ + ": image is closed");
  return check_locked();
}

Qcow2CheckResult Qcow2Image::check_locked() {
  if (!read_only_ && marked_dirty_) flush_locked();
  Qcow2CheckResult result;
  const std::uint64_t cs = cluster_size_;
  const std::uint64_t file_size = file_.size();
  const std::uint64_t nb_clusters = (file_size + cs - 1) / cs;
  result.references.assign(nb_clusters, 0);
  result.total_clusters = (header_.size + cs - 1) / cs;

  auto note = [&](const std::string& line) {
    if (result.messages.size() < 100) result.messages.push_back(line);
  };
  auto corruption = [&](const std::string& line) {
    ++result.corruptions;
    note("ERROR " + line);
  };
  // Counts a reference to every cluster of [offset, offset + length).
  auto reference = [&](std::uint64_t offset, std::uint64_t length, const char* what) {
    if (length == 0) return true;
    const std::uint64_t first = offset / cs;
    const std::uint64_t last = (offset + length - 1) / cs;
    for (std::uint64_t c = first; c <= last; ++c) {
      if (c >= nb_clusters) {
        corruption(std::string(what) + " at " + to_hex(offset) + " lies beyond the end of the file");
        return false;
      }
      ++result.references[c];
    }
    result.image_end_offset = std::max(result.image_end_offset, (last + 1) * cs);
    return true;
  };

  // Stored refcounts.
  std::vector<std::uint64_t> stored(nb_clusters, 0);
  std::vector<std::uint8_t> table(static_cast<std::size_t>(header_.refcount_table_clusters) * cs, 0);
  reference(header_.refcount_table_offset, table.size(), "refcount table");
  file_.read_some(header_.refcount_table_offset, table);
  const std::uint64_t per_block = header_.refcounts_per_block();
  std::vector<std::uint8_t> block(cs);
  for (std::uint64_t i = 0; i < table.size() / 8; ++i) {
    const std::uint64_t offset = load_be64(&table[i * 8]) & kRefcountTableOffsetMask;
    if (offset == 0) continue;
    if (offset & (cs - 1)) {
      corruption("refcount block " + std::to_string(i) + " is not cluster aligned (" + to_hex(offset) + ")");
      continue;
    }
    if (offset >= file_size) {
      corruption("refcount block " + std::to_string(i) + " is outside the image (" + to_hex(offset) + ")");
      continue;
    }
    reference(offset, cs, "refcount block");
    std::fill(block.begin(), block.end(), 0);
    file_.read_some(offset, block);
    for (std::uint64_t k = 0; k < per_block; ++k) {
      const std::uint64_t c = i * per_block + k;
      if (c >= nb_clusters) break;
      stored[c] = load_refcount(block.data(), header_.refcount_order, k);
    }
  }
  auto stored_refcount = [&](std::uint64_t host) { return host / cs < nb_clusters ? stored[host / cs] : 0; };

  // The header cluster (extensions and backing file name are inside it).
  reference(0, cs, "header");

  std::vector<std::uint8_t> l2(cs);
  auto walk_l1 = [&](std::uint64_t l1_offset, std::uint64_t l1_size, bool active) {
    if (l1_size == 0) return;
    if ((l1_offset & (cs - 1)) || l1_size * 8 > kMaxL1Bytes) {
      corruption("L1 table at " + to_hex(l1_offset) + " (" + std::to_string(l1_size) + " entries) is invalid");
      return;
    }
    if (!reference(l1_offset, l1_size * 8, "L1 table")) return;
    std::vector<std::uint8_t> l1(static_cast<std::size_t>(l1_size) * 8, 0);
    file_.read_some(l1_offset, l1);
    // One L1 table naming the same L2 table twice is itself the error (the L2
    // table's count shows it); walking its entries once keeps check linear.
    std::set<std::uint64_t> walked;
    for (std::uint64_t i = 0; i < l1_size; ++i) {
      const std::uint64_t l1_entry = load_be64(&l1[i * 8]);
      const std::uint64_t l2_offset = l1_entry & kOffsetMask;
      if (l2_offset == 0) continue;
      if (l2_offset & (cs - 1)) {
        corruption("L2 table of L1 entry " + std::to_string(i) + " is not cluster aligned (" + to_hex(l2_offset) + ")");
        continue;
      }
      if (!reference(l2_offset, cs, "L2 table")) continue;
      if (!walked.insert(l2_offset).second) continue;
      if (active && (stored_refcount(l2_offset) == 1) != ((l1_entry & kFlagCopied) != 0)) {
        corruption("OFLAG_COPIED L2 cluster: l1_index=" + std::to_string(i) + " refcount=" +
                   std::to_string(stored_refcount(l2_offset)));
      }
      std::fill(l2.begin(), l2.end(), 0);
      file_.read_some(l2_offset, l2);
      for (std::uint64_t j = 0; j < cs / 8; ++j) {
        const std::uint64_t entry = load_be64(&l2[j * 8]);
        if (entry == 0) continue;
        const ClusterInfo info = decode_l2_entry(entry);
        if (info.kind == ClusterKind::Compressed) {
          if (entry & kFlagCopied) corruption("compressed cluster " + to_hex(info.host) + " has the COPIED flag");
          reference(info.host & ~std::uint64_t{511}, info.compressed_size + (info.host & 511), "compressed cluster");
          if (active) ++result.allocated_clusters;
          continue;
        }
        if (info.host == 0) continue;
        if (info.host & (cs - 1)) {
          corruption("data cluster " + to_hex(info.host) + " is not cluster aligned");
          continue;
        }
        if (!reference(info.host, cs, "data cluster")) continue;
        if (active) {
          if (info.kind == ClusterKind::Normal) ++result.allocated_clusters;
          if ((stored_refcount(info.host) == 1) != ((entry & kFlagCopied) != 0)) {
            corruption("OFLAG_COPIED data cluster: l2_entry=" + to_hex(entry) + " refcount=" +
                       std::to_string(stored_refcount(info.host)));
          }
        }
      }
    }
  };
  walk_l1(header_.l1_table_offset, header_.l1_size, true);

  // Internal snapshots: their table and their own L1/L2 trees.
  if (header_.nb_snapshots > 0) {
    std::uint64_t at = header_.snapshots_offset;
    for (std::uint32_t s = 0; s < header_.nb_snapshots; ++s) {
      std::uint8_t fixed[40] = {};
      if (file_.read_some(at, fixed) != sizeof fixed) {
        corruption("snapshot table runs past the end of the file");
        break;
      }
      const std::uint64_t l1_offset = load_be64(fixed);
      const std::uint32_t l1_size = load_be32(fixed + 8);
      const std::uint64_t entry_length =
          (40ull + load_be32(fixed + 36) + load_be16(fixed + 12) + load_be16(fixed + 14) + 7) & ~7ull;
      walk_l1(l1_offset, l1_size, false);
      at += entry_length;
    }
    reference(header_.snapshots_offset, at - header_.snapshots_offset, "snapshot table");
  }

  for (std::uint64_t c = 0; c < nb_clusters; ++c) {
    const std::uint64_t expected = result.references[c];
    if (stored[c] == expected) continue;
    if (stored[c] < expected) {
      corruption("cluster " + std::to_string(c) + " refcount=" + std::to_string(stored[c]) +
                 " reference=" + std::to_string(expected));
    } else {
      ++result.leaks;
      note("Leaked cluster " + std::to_string(c) + " refcount=" + std::to_string(stored[c]) +
           " reference=" + std::to_string(expected));
    }
  }
  return result;
}

}  // namespace nestbox::block
