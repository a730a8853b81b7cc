#include "block/qcow2_header.h"

#include <vector>

#include "block/qcow2_format.h"
#include "common/hex.h"

namespace nestbox::block {

using namespace qcow2;

namespace {

[[noreturn]] void corrupt(const ImageFile& file, const std::string& what) {
  throw DiskImageError(DiskImageErrorCode::Corrupt, file.path() + ": corrupt qcow2 image: " + what);
}

[[noreturn]] void unsupported(const ImageFile& file, const std::string& what) {
  throw DiskImageError(DiskImageErrorCode::Unsupported, file.path() + ": unsupported qcow2 image: " + what);
}

std::string incompatible_bit_name(const Qcow2Header& header, unsigned bit) {
  for (const Qcow2FeatureName& feature : header.feature_names) {
    if (feature.type == 0 && feature.bit == bit && !feature.name.empty()) return feature.name;
  }
  return {};
}

void parse_extensions(const ImageFile& file, const std::vector<std::uint8_t>& cluster0, std::uint64_t start,
                      std::uint64_t end, Qcow2Header& header) {
  std::uint64_t at = start;
  while (at + 8 <= end) {
    const std::uint32_t type = load_be32(&cluster0[at]);
    const std::uint32_t length = load_be32(&cluster0[at + 4]);
    at += 8;
    if (type == kExtEnd) return;
    if (length > end - at) {
      corrupt(file, "header extension " + to_hex(type) + " runs past the header area");
    }
    const std::uint8_t* data = &cluster0[at];
    switch (type) {
      case kExtBackingFormat:
        if (length > kMaxBackingFileName) corrupt(file, "backing format name too long");
        header.backing_format.assign(reinterpret_cast<const char*>(data), length);
        break;
      case kExtFeatureNameTable:
        for (std::uint32_t i = 0; i + 48 <= length; i += 48) {
          Qcow2FeatureName feature;
          feature.type = data[i];
          feature.bit = data[i + 1];
          const char* name = reinterpret_cast<const char*>(data + i + 2);
          std::size_t name_length = 0;
          while (name_length < 46 && name[name_length] != '\0') ++name_length;
          feature.name.assign(name, name_length);
          header.feature_names.push_back(std::move(feature));
        }
        break;
      default:
        break;  // Unknown extensions are ignored, as the spec requires.
    }
    at += (static_cast<std::uint64_t>(length) + 7) & ~std::uint64_t{7};
  }
}

}  // namespace

std::uint64_t qcow2_l1_entries_for(std::uint64_t virtual_size, std::uint32_t cluster_bits) {
  // One L1 entry maps cluster_size * (cluster_size / 8) bytes.
  const std::uint32_t shift = 2 * cluster_bits - 3;
  const std::uint64_t whole = virtual_size >> shift;
  const bool partial = (virtual_size & ((1ull << shift) - 1)) != 0;
  return whole + (partial ? 1 : 0);
}

Qcow2Header read_qcow2_header(const ImageFile& file) {
  const std::uint64_t file_size = file.size();
  std::uint8_t fixed[kV3HeaderLength] = {};
  if (file.read_some(0, std::span<std::uint8_t>(fixed, sizeof fixed)) < kV2HeaderLength) {
    corrupt(file, "the file is too short to hold a qcow2 header (" + std::to_string(file_size) + " bytes)");
  }
  if (load_be32(fixed) != kMagic) corrupt(file, "no qcow2 magic");

  Qcow2Header h;
  h.version = load_be32(fixed + kOffVersion);
  if (h.version != 2 && h.version != 3) {
    unsupported(file, "qcow2 version " + std::to_string(h.version) + " (only versions 2 and 3 are supported)");
  }
  h.backing_file_offset = load_be64(fixed + kOffBackingFileOffset);
  h.backing_file_size = load_be32(fixed + kOffBackingFileSize);
  h.cluster_bits = load_be32(fixed + kOffClusterBits);
  h.size = load_be64(fixed + kOffSize);
  h.crypt_method = load_be32(fixed + kOffCryptMethod);
  h.l1_size = load_be32(fixed + kOffL1Size);
  h.l1_table_offset = load_be64(fixed + kOffL1TableOffset);
  h.refcount_table_offset = load_be64(fixed + kOffRefcountTableOffset);
  h.refcount_table_clusters = load_be32(fixed + kOffRefcountTableClusters);
  h.nb_snapshots = load_be32(fixed + kOffNbSnapshots);
  h.snapshots_offset = load_be64(fixed + kOffSnapshotsOffset);

  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    corrupt(file, "cluster_bits " + std::to_string(h.cluster_bits) + " outside 9..21");
  }
  const std::uint64_t cluster_size = h.cluster_size();

  if (h.version == 2) {
    h.header_length = kV2HeaderLength;
    h.refcount_order = 4;
  } else {
    if (file_size < kV3MinHeaderLength) corrupt(file, "the file is too short for a version 3 header");
    h.incompatible_features = load_be64(fixed + kOffIncompatibleFeatures);
    h.compatible_features = load_be64(fixed + kOffCompatibleFeatures);
    h.autoclear_features = load_be64(fixed + kOffAutoclearFeatures);
    h.refcount_order = load_be32(fixed + kOffRefcountOrder);
    h.header_length = load_be32(fixed + kOffHeaderLength);
    if (h.header_length < kV3MinHeaderLength || h.header_length % 8 != 0 || h.header_length > cluster_size) {
      corrupt(file, "header_length " + std::to_string(h.header_length) +
                        " (must be a multiple of 8, at least 104 and within the first cluster)");
    }
    if (h.header_length > kOffCompressionType) h.compression_type = fixed[kOffCompressionType];
    if (h.refcount_order > 6) corrupt(file, "refcount_order " + std::to_string(h.refcount_order) + " above 6");
  }
  if (file_size < h.header_length) corrupt(file, "the file ends inside the header");

  // Header extensions and the backing file name live in the first cluster.
  std::vector<std::uint8_t> cluster0(cluster_size, 0);
  file.read_some(0, cluster0);

  if (h.backing_file_offset != 0) {
    if (h.backing_file_size == 0 || h.backing_file_size > kMaxBackingFileName) {
      corrupt(file, "backing file name length " + std::to_string(h.backing_file_size) + " (1..1023 allowed)");
    }
    if (h.backing_file_offset < h.header_length || h.backing_file_offset > cluster_size ||
        h.backing_file_size > cluster_size - h.backing_file_offset) {
      corrupt(file, "backing file name outside the first cluster");
    }
    if (h.backing_file_offset + h.backing_file_size > file_size) {
      corrupt(file, "backing file name beyond the end of the file");
    }
    h.backing_file.assign(reinterpret_cast<const char*>(&cluster0[h.backing_file_offset]), h.backing_file_size);
    if (h.backing_file.find('\0') != std::string::npos) corrupt(file, "backing file name contains a NUL byte");
  }
  const std::uint64_t extensions_end = h.backing_file_offset != 0 ? h.backing_file_offset : cluster_size;
  parse_extensions(file, cluster0, h.header_length, std::min<std::uint64_t>(extensions_end, file_size), h);

  // Features first: an image using something we do not know must be refused
  // before we interpret anything else in it.
  const std::uint64_t unknown = h.incompatible_features & ~kIncompatKnown;
  if (unknown != 0) {
    for (unsigned bit = 0; bit < 64; ++bit) {
      if ((unknown >> bit) & 1) {
        const std::string name = incompatible_bit_name(h, bit);
        unsupported(file, "unknown incompatible feature bit " + std::to_string(bit) +
                              (name.empty() ? std::string() : " (\"" + name + "\")") +
                              "; this image needs a newer program to be read safely");
      }
    }
  }
  if (h.incompatible_features & kIncompatExternalData) {
    unsupported(file, "external data file (incompatible feature bit 2) is not supported");
  }
  if (h.incompatible_features & kIncompatExtendedL2) {
    unsupported(file,
                "extended L2 entries / subclusters (incompatible feature bit 4) are not supported; "
                "convert with `qemu-img convert -O qcow2`");
  }
  if (h.compression_type != kCompressionDeflate && h.compression_type != kCompressionZstd) {
    unsupported(file, "compression type " + std::to_string(h.compression_type));
  }
  if ((h.compression_type != kCompressionDeflate) != ((h.incompatible_features & kIncompatCompressionType) != 0)) {
    corrupt(file, "compression_type and incompatible feature bit 3 disagree");
  }
  if (h.crypt_method != 0) unsupported(file, "encrypted images (crypt_method " + std::to_string(h.crypt_method) + ")");

  // Sizes and offsets.
  const std::uint64_t l1_needed = qcow2_l1_entries_for(h.size, h.cluster_bits);
  if (static_cast<std::uint64_t>(h.l1_size) * 8 > kMaxL1Bytes) {
    unsupported(file, "L1 table of " + std::to_string(h.l1_size) + " entries is larger than 32 MiB");
  }
  if (l1_needed > h.l1_size) {
    corrupt(file, "L1 table (" + std::to_string(h.l1_size) + " entries) too small for the virtual size " +
                      std::to_string(h.size));
  }
  if (h.l1_size > 0) {
    if (h.l1_table_offset == 0 || (h.l1_table_offset & (cluster_size - 1)) != 0) {
      corrupt(file, "L1 table offset " + std::to_string(h.l1_table_offset) + " is not cluster aligned");
    }
    if (h.l1_table_offset > file_size || h.l1_size * 8ull > file_size - h.l1_table_offset) {
      corrupt(file, "L1 table lies beyond the end of the file (the image may be truncated)");
    }
  }
  if (h.refcount_table_clusters == 0) corrupt(file, "no refcount table");
  if (h.refcount_table_offset == 0 || (h.refcount_table_offset & (cluster_size - 1)) != 0) {
    corrupt(file, "refcount table offset " + std::to_string(h.refcount_table_offset) + " is not cluster aligned");
  }
  const std::uint64_t refcount_table_bytes = static_cast<std::uint64_t>(h.refcount_table_clusters) * cluster_size;
  if (refcount_table_bytes > kMaxRefcountTableBytes) {
    unsupported(file, "refcount table larger than 8 MiB");
  }
  if (h.refcount_table_offset > file_size || refcount_table_bytes > file_size - h.refcount_table_offset) {
    corrupt(file, "refcount table lies beyond the end of the file (the image may be truncated)");
  }
  if (h.nb_snapshots > 0) {
    if ((h.snapshots_offset & (cluster_size - 1)) != 0 || h.snapshots_offset == 0 || h.snapshots_offset >= file_size) {
      corrupt(file, "snapshot table offset invalid");
    }
    if (h.nb_snapshots > 65536) corrupt(file, "too many snapshots");
  }
  return h;
}

}  // namespace nestbox::block
