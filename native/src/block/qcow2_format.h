// On-disk constants of the qcow2 format (QEMU docs/interop/qcow2.rst) and
// big-endian field access. Everything in a qcow2 file is big-endian.
#pragma once

#include <cstdint>
#include <cstring>

namespace nestbox::block::qcow2 {

inline constexpr std::uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr std::uint32_t kMinClusterBits = 9;
inline constexpr std::uint32_t kMaxClusterBits = 21;
inline constexpr std::uint32_t kV2HeaderLength = 72;
inline constexpr std::uint32_t kV3MinHeaderLength = 104;
// Our own v3 header: 104 bytes + compression_type + 7 bytes of padding.
inline constexpr std::uint32_t kV3HeaderLength = 112;
inline constexpr std::uint32_t kMaxBackingFileName = 1023;
// QEMU's limits, so images we accept are images QEMU accepts.
inline constexpr std::uint64_t kMaxL1Bytes = 32ull << 20;
inline constexpr std::uint64_t kMaxRefcountTableBytes = 8ull << 20;

// Header field offsets.
inline constexpr std::size_t kOffVersion = 4;
inline constexpr std::size_t kOffBackingFileOffset = 8;
inline constexpr std::size_t kOffBackingFileSize = 16;
inline constexpr std::size_t kOffClusterBits = 20;
inline constexpr std::size_t kOffSize = 24;
inline constexpr std::size_t kOffCryptMethod = 32;
inline constexpr std::size_t kOffL1Size = 36;
inline constexpr std::size_t kOffL1TableOffset = 40;
inline constexpr std::size_t kOffRefcountTableOffset = 48;
inline constexpr std::size_t kOffRefcountTableClusters = 56;
inline constexpr std::size_t kOffNbSnapshots = 60;
inline constexpr std::size_t kOffSnapshotsOffset = 64;
inline constexpr std::size_t kOffIncompatibleFeatures = 72;
inline constexpr std::size_t kOffCompatibleFeatures = 80;
inline constexpr std::size_t kOffAutoclearFeatures = 88;
inline constexpr std::size_t kOffRefcountOrder = 96;
inline constexpr std::size_t kOffHeaderLength = 100;
inline constexpr std::size_t kOffCompressionType = 104;

// Incompatible feature bits.
inline constexpr std::uint64_t kIncompatDirty = 1ull << 0;
inline constexpr std::uint64_t kIncompatCorrupt = 1ull << 1;
inline constexpr std::uint64_t kIncompatExternalData = 1ull << 2;
inline constexpr std::uint64_t kIncompatCompressionType = 1ull << 3;
inline constexpr std::uint64_t kIncompatExtendedL2 = 1ull << 4;
inline constexpr std::uint64_t kIncompatKnown =
    kIncompatDirty | kIncompatCorrupt | kIncompatExternalData | kIncompatCompressionType | kIncompatExtendedL2;

inline constexpr std::uint64_t kCompatLazyRefcounts = 1ull << 0;

// Header extension types.
inline constexpr std::uint32_t kExtEnd = 0;
inline constexpr std::uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr std::uint32_t kExtFeatureNameTable = 0x6803f857;
inline constexpr std::uint32_t kExtExternalDataFile = 0x44415441;

inline constexpr std::uint8_t kCompressionDeflate = 0;
inline constexpr std::uint8_t kCompressionZstd = 1;

// L1 / L2 entries.
inline constexpr std::uint64_t kOffsetMask = 0x00fffffffffffe00ull;  // bits 9-55
inline constexpr std::uint64_t kFlagCopied = 1ull << 63;
inline constexpr std::uint64_t kFlagCompressed = 1ull << 62;
inline constexpr std::uint64_t kFlagZero = 1ull << 0;  // v3 only
// Refcount table entries: bits 9-63.
inline constexpr std::uint64_t kRefcountTableOffsetMask = 0xfffffffffffffe00ull;

inline std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint64_t load_be64(const std::uint8_t* p) {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}
inline void store_be64(std::uint8_t* p, std::uint64_t v) {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}

// Refcount entries are 2^refcount_order bits wide; below 8 bits they are packed
// lowest bits first within a byte, from 8 bits up they are big-endian.
inline std::uint64_t load_refcount(const std::uint8_t* block, std::uint32_t order, std::uint64_t index) {
  switch (order) {
    case 0: return (block[index / 8] >> (index % 8)) & 0x1;
    case 1: return (block[index / 4] >> (2 * (index % 4))) & 0x3;
    case 2: return (block[index / 2] >> (4 * (index % 2))) & 0xf;
    case 3: return block[index];
    case 4: return load_be16(block + 2 * index);
    case 5: return load_be32(block + 4 * index);
    default: return load_be64(block + 8 * index);
  }
}
inline void store_refcount(std::uint8_t* block, std::uint32_t order, std::uint64_t index, std::uint64_t value) {
  switch (order) {
    case 0:
    case 1:
    case 2: {
      const std::uint32_t bits = 1u << order;
      const std::uint32_t per_byte = 8 / bits;
      const std::uint32_t shift = bits * static_cast<std::uint32_t>(index % per_byte);
      const std::uint8_t mask = static_cast<std::uint8_t>(((1u << bits) - 1) << shift);
      std::uint8_t& byte = block[index / per_byte];
      byte = static_cast<std::uint8_t>((byte & ~mask) | ((value << shift) & mask));
      return;
    }
    case 3: block[index] = static_cast<std::uint8_t>(value); return;
    case 4: store_be16(block + 2 * index, static_cast<std::uint16_t>(value)); return;
    case 5: store_be32(block + 4 * index, static_cast<std::uint32_t>(value)); return;
    default: store_be64(block + 8 * index, value); return;
  }
}

}  // namespace nestbox::block::qcow2
