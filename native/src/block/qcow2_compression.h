// Decompression of qcow2 compressed clusters: raw deflate (compression_type 0)
// or zstd (compression_type 1). The stored data may be followed by unrelated
// bytes (it is stored in whole 512-byte sectors), so decoding stops once the
// output cluster is full.
#pragma once

#include <cstdint>
#include <span>

namespace nestbox::block {

// Fills `out` completely from `in`; returns false if the data is not a valid
// stream or decodes to fewer bytes than out.size().
bool qcow2_decompress(std::uint8_t compression_type, std::span<const std::uint8_t> in, std::span<std::uint8_t> out);

}  // namespace nestbox::block
