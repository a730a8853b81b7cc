#include "devices/display/png_encoder.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>

#include "common/nestbox_error.h"

namespace nestbox::display {

namespace {

constexpr std::array<std::uint8_t, 8> kSignature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr std::size_t kMaxIdatChunk = 1 << 20;
constexpr std::uint32_t kMaxSide = 0x7fff'ffff;  // PNG's limit on width and height
constexpr std::size_t kBytesPerPixel = 3;

enum Filter : std::uint8_t { kNone = 0, kSub = 1, kUp = 2, kAverage = 3, kPaeth = 4 };

void put32be(std::vector<std::uint8_t>& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 24));
  out.push_back(static_cast<std::uint8_t>(value >> 16));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_chunk(std::vector<std::uint8_t>& out, const char (&type)[5],
               std::span<const std::uint8_t> data) {
  put32be(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t type_start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  // The CRC covers the type and the data, not the length.
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + type_start, static_cast<uInt>(4 + data.size()));
  put32be(out, static_cast<std::uint32_t>(crc));
}

std::uint8_t paeth(std::uint8_t left, std::uint8_t up, std::uint8_t up_left) {
  const int p = int{left} + int{up} - int{up_left};
  const int pa = std::abs(p - int{left});
  const int pb = std::abs(p - int{up});
  const int pc = std::abs(p - int{up_left});
  if (pa <= pb && pa <= pc) return left;
  if (pb <= pc) return up;
  return up_left;
}

// Filters `line` (with `previous` the unfiltered line above, or zeros) with
// `filter` into `out`, which starts with the filter byte.
void filter_line(Filter filter, const std::uint8_t* line, const std::uint8_t* previous,
                 std::size_t length, std::uint8_t* out) {
  out[0] = filter;
  for (std::size_t i = 0; i < length; ++i) {
    const std::uint8_t left = i >= kBytesPerPixel ? line[i - kBytesPerPixel] : 0;
    const std::uint8_t up = previous[i];
    const std::uint8_t up_left = i >= kBytesPerPixel ? previous[i - kBytesPerPixel] : 0;
    std::uint8_t predictor = 0;
    switch (filter) {
      case kNone: predictor = 0; break;
      case kSub: predictor = left; break;
      case kUp: predictor = up; break;
      case kAverage: predictor = static_cast<std::uint8_t>((int{left} + int{up}) / 2); break;
      case kPaeth: predictor = paeth(left, up, up_left); break;
    }
    out[1 + i] = static_cast<std::uint8_t>(line[i] - predictor);
  }
}

// The filtered bytes read as signed values: small sums compress well.
std::uint64_t cost(const std::uint8_t* filtered, std::size_t length) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < length; ++i) {
    sum += static_cast<std::uint64_t>(std::abs(static_cast<int>(static_cast<std::int8_t>(filtered[i]))));
  }
  return sum;
}

std::vector<std::uint8_t> deflate_all(const std::vector<std::uint8_t>& input, int level) {
  z_stream stream{};
  if (deflateInit(&stream, level) != Z_OK) {
    throw NestboxError(ErrorCode::InvalidConfig, "cannot start PNG compression");
  }
  std::vector<std::uint8_t> output(deflateBound(&stream, static_cast<uLong>(input.size())));
  stream.next_in = const_cast<Bytef*>(input.data());  // zlib's API is not const-correct
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = output.data();
  stream.avail_out = static_cast<uInt>(output.size());
  const int result = deflate(&stream, Z_FINISH);
  const std::size_t produced = stream.total_out;
  deflateEnd(&stream);
  if (result != Z_STREAM_END) {
    throw NestboxError(ErrorCode::InvalidConfig, "PNG compression failed");
  }
  output.resize(produced);
  return output;
}

}  // namespace

std::vector<std::uint8_t> encode_png_rgb(std::uint32_t width, std::uint32_t height,
                                         std::span<const std::uint8_t> rgb,
                                         int compression_level) {
  if (width == 0 || height == 0 || width > kMaxSide || height > kMaxSide ||
      rgb.size() != std::uint64_t{width} * height * kBytesPerPixel) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "cannot encode a " + std::to_string(width) + "x" + std::to_string(height) +
                           " PNG from " + std::to_string(rgb.size()) + " bytes");
  }
  if (rgb.size() + height > 0xffff'ffffull) {
    // zlib's single-call interface counts in 32 bits; no display gets near this.
    throw NestboxError(ErrorCode::InvalidConfig, "image too large for a screenshot");
  }
  const std::size_t line_bytes = std::size_t{width} * kBytesPerPixel;
  std::vector<std::uint8_t> filtered((line_bytes + 1) * height);
  const std::vector<std::uint8_t> zeros(line_bytes, 0);
  std::vector<std::uint8_t> trial(line_bytes + 1);
  for (std::uint32_t y = 0; y < height; ++y) {
    const std::uint8_t* line = rgb.data() + std::size_t{y} * line_bytes;
    const std::uint8_t* previous = y == 0 ? zeros.data() : line - line_bytes;
    std::uint8_t* out = filtered.data() + std::size_t{y} * (line_bytes + 1);
    std::uint64_t best_cost = UINT64_MAX;
    for (Filter filter : {kNone, kSub, kUp, kAverage, kPaeth}) {
      filter_line(filter, line, previous, line_bytes, trial.data());
      const std::uint64_t trial_cost = cost(trial.data() + 1, line_bytes);
      if (trial_cost < best_cost) {
        best_cost = trial_cost;
        std::copy(trial.begin(), trial.end(), out);
      }
    }
  }
  const std::vector<std::uint8_t> compressed = deflate_all(filtered, compression_level);

  std::vector<std::uint8_t> png(kSignature.begin(), kSignature.end());
  std::vector<std::uint8_t> header;
  put32be(header, width);
  put32be(header, height);
  header.push_back(8);  // bits per channel
  header.push_back(2);  // colour type: truecolour
  header.push_back(0);  // compression: deflate
  header.push_back(0);  // filter method: adaptive
  header.push_back(0);  // no interlace
  put_chunk(png, "IHDR", header);
  for (std::size_t start = 0; start < compressed.size(); start += kMaxIdatChunk) {
    const std::size_t length = std::min(kMaxIdatChunk, compressed.size() - start);
    put_chunk(png, "IDAT", std::span(compressed).subspan(start, length));
  }
  put_chunk(png, "IEND", {});
  return png;
}

std::vector<std::uint8_t> encode_framebuffer_png(const DisplayMode& mode,
                                                 std::span<const std::uint8_t> vram,
                                                 int compression_level) {
  const std::vector<std::uint8_t> rgb = framebuffer_to_rgb(mode, vram);
  return encode_png_rgb(mode.width, mode.height, rgb, compression_level);
}

}  // namespace nestbox::display
