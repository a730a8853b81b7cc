// Qcow2Image::create(): a new, empty version 3 image laid out as QEMU lays one
// out: header (+ extensions, backing file name) in cluster 0, the refcount
// table, the refcount blocks describing the metadata, then the L1 table.
#include <unistd.h>

#include <filesystem>

#include "block/qcow2_format.h"
#include "block/qcow2_image.h"

namespace nestbox::block {

using namespace qcow2;

namespace {

constexpr std::uint32_t kCreateRefcountOrder = 4;  // 16-bit refcounts, QEMU's default

struct FeatureNameEntry {
  std::uint8_t type;
  std::uint8_t bit;
  const char* name;
};
constexpr FeatureNameEntry kFeatureNames[] = {
    {0, 0, "dirty bit"},         {0, 1, "corrupt bit"},       {0, 2, "external data file"},
    {0, 3, "compression type"},  {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},           {2, 1, "raw external data"},
};

void append_extension(std::vector<std::uint8_t>& out, std::uint32_t type, const std::vector<std::uint8_t>& data) {
  const std::size_t at = out.size();
  out.resize(at + 8 + ((data.size() + 7) & ~std::size_t{7}), 0);
  store_be32(&out[at], type);
  store_be32(&out[at + 4], static_cast<std::uint32_t>(data.size()));
  std::copy(data.begin(), data.end(), out.begin() + static_cast<std::ptrdiff_t>(at + 8));
}

std::uint64_t div_round_up(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

}  // namespace

void Qcow2Image::create(const std::string& path, std::uint64_t virtual_size, const Qcow2CreateOptions& options) {
  const std::uint64_t cs = options.cluster_size;
  if (cs < 512 || cs > (1u << 21) || (cs & (cs - 1)) != 0) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         "cluster size " + std::to_string(cs) + " must be a power of two from 512 bytes to 2 MiB");
  }
  std::uint32_t cluster_bits = 9;
  while ((1ull << cluster_bits) < cs) ++cluster_bits;

  std::string backing_format = options.backing_format;
  if (!options.backing_file.empty()) {
    if (options.backing_file.size() > kMaxBackingFileName) {
      throw DiskImageError(DiskImageErrorCode::InvalidArgument, "backing file name longer than 1023 bytes");
    }
    if (!backing_format.empty() && backing_format != "qcow2" && backing_format != "raw") {
      throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                           "backing format \"" + backing_format + "\" (qcow2 or raw expected)");
    }
    // The backing file must open (the whole chain), as the overlay will see it.
    std::filesystem::path resolved(options.backing_file);
    if (resolved.is_relative() && !std::filesystem::path(path).parent_path().empty()) {
      resolved = std::filesystem::path(path).parent_path() / resolved;
    }
    std::unique_ptr<DiskImage> backing = open_disk_image(resolved.string(), OpenOptions{.read_only = true});
    if (backing_format.empty()) backing_format = image_format_name(backing->format());
    if (virtual_size == 0) virtual_size = backing->virtual_size();
    backing->close();
  }
  virtual_size = (virtual_size + 511) & ~std::uint64_t{511};
  if (virtual_size < 512 && options.backing_file.empty()) {
    // Zero-sized disks are legal qcow2 but useless; a size was most likely forgotten.
    throw DiskImageError(DiskImageErrorCode::InvalidArgument, "the virtual size must be at least 512 bytes");
  }
  const std::uint64_t l1_entries = qcow2_l1_entries_for(virtual_size, cluster_bits);
  if (l1_entries * 8 > kMaxL1Bytes || virtual_size > (1ull << 61)) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument,
                         "virtual size " + std::to_string(virtual_size) + " is too large for " +
                             std::to_string(cs) + "-byte clusters");
  }

  // Cluster 0: header, extensions, backing file name.
  std::vector<std::uint8_t> header(kV3HeaderLength, 0);
  if (!backing_format.empty()) {
    append_extension(header, kExtBackingFormat, std::vector<std::uint8_t>(backing_format.begin(), backing_format.end()));
  }
  std::vector<std::uint8_t> names;
  for (const FeatureNameEntry& f : kFeatureNames) {
    std::uint8_t entry[48] = {};
    entry[0] = f.type;
    entry[1] = f.bit;
    std::copy_n(f.name, std::char_traits<char>::length(f.name), reinterpret_cast<char*>(entry + 2));
    names.insert(names.end(), entry, entry + 48);
  }
  if (header.size() + 8 + names.size() + 8 + options.backing_file.size() <= cs) {
    append_extension(header, kExtFeatureNameTable, names);
  }
  header.resize(header.size() + 8, 0);  // end of extensions
  std::uint64_t backing_offset = 0;
  if (!options.backing_file.empty()) {
    backing_offset = header.size();
    header.insert(header.end(), options.backing_file.begin(), options.backing_file.end());
  }
  if (header.size() > cs) {
    throw DiskImageError(DiskImageErrorCode::InvalidArgument, "the header does not fit in one cluster; use larger clusters");
  }

  // Layout: header | refcount table | refcount blocks | L1 table.
  const std::uint64_t per_block = (cs * 8) >> kCreateRefcountOrder;
  const std::uint64_t l1_clusters = div_round_up(l1_entries * 8, cs);
  std::uint64_t table_clusters = 1;
  std::uint64_t blocks = 1;
  for (;;) {
    const std::uint64_t total = 1 + table_clusters + blocks + l1_clusters;
    const std::uint64_t need_blocks = div_round_up(total, per_block);
    const std::uint64_t need_table = div_round_up(need_blocks * 8, cs);
    if (need_blocks <= blocks && need_table <= table_clusters) break;
    blocks = std::max(blocks, need_blocks);
    table_clusters = std::max(table_clusters, need_table);
  }
  const std::uint64_t total = 1 + table_clusters + blocks + l1_clusters;
  const std::uint64_t table_offset = cs;
  const std::uint64_t blocks_offset = table_offset + table_clusters * cs;
  const std::uint64_t l1_offset = blocks_offset + blocks * cs;

  std::uint8_t* h = header.data();
  store_be32(h, kMagic);
  store_be32(h + kOffVersion, 3);
  store_be64(h + kOffBackingFileOffset, backing_offset);
  store_be32(h + kOffBackingFileSize, static_cast<std::uint32_t>(options.backing_file.size()));
  store_be32(h + kOffClusterBits, cluster_bits);
  store_be64(h + kOffSize, virtual_size);
  store_be32(h + kOffL1Size, static_cast<std::uint32_t>(l1_entries));
  store_be64(h + kOffL1TableOffset, l1_offset);
  store_be64(h + kOffRefcountTableOffset, table_offset);
  store_be32(h + kOffRefcountTableClusters, static_cast<std::uint32_t>(table_clusters));
  store_be32(h + kOffRefcountOrder, kCreateRefcountOrder);
  store_be32(h + kOffHeaderLength, kV3HeaderLength);
  h[kOffCompressionType] = kCompressionDeflate;

  std::vector<std::uint8_t> table(table_clusters * cs, 0);
  for (std::uint64_t i = 0; i < blocks; ++i) store_be64(&table[i * 8], blocks_offset + i * cs);
  std::vector<std::uint8_t> refcounts(blocks * cs, 0);
  for (std::uint64_t c = 0; c < total; ++c) store_refcount(refcounts.data(), kCreateRefcountOrder, c, 1);

  ImageFile file = ImageFile::create(path);
  try {
    file.truncate(total * cs);
    file.write_all(0, header);
    file.write_all(table_offset, table);
    file.write_all(blocks_offset, refcounts);
    file.sync_data();
  } catch (...) {
    file.close();
    ::unlink(path.c_str());
    throw;
  }
}

}  // namespace nestbox::block
