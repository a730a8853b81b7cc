#include "block/qcow2_compression.h"

#include <zlib.h>
#include <zstd.h>

#include "block/qcow2_format.h"

namespace nestbox::block {

namespace {

bool inflate_raw(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
  z_stream stream{};
  // Negative window bits: a raw deflate stream, no zlib header (what QEMU writes).
  if (inflateInit2(&stream, -15) != Z_OK) return false;
  stream.next_in = const_cast<Bytef*>(in.data());
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = inflate(&stream, Z_FINISH);
  const bool full = stream.avail_out == 0;
  inflateEnd(&stream);
  return full && (result == Z_STREAM_END || result == Z_OK || result == Z_BUF_ERROR);
}

bool decompress_zstd(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
  ZSTD_DCtx* context = ZSTD_createDCtx();
  if (context == nullptr) return false;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  bool ok = true;
  // A cluster may be stored as several frames; stop as soon as it is complete.
  while (output.pos < output.size) {
    const std::size_t before_in = input.pos;
    const std::size_t before_out = output.pos;
    const std::size_t result = ZSTD_decompressStream(context, &output, &input);
    if (ZSTD_isError(result)) {
      ok = false;
      break;
    }
    if (input.pos == before_in && output.pos == before_out) {
      ok = false;  // no progress: truncated input
      break;
    }
  }
  ZSTD_freeDCtx(context);
  return ok && output.pos == output.size;
}

}  // namespace

bool qcow2_decompress(std::uint8_t compression_type, std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
  if (compression_type == qcow2::kCompressionZstd) return decompress_zstd(in, out);
  return inflate_raw(in, out);
}

}  // namespace nestbox::block
