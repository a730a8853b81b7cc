// PNG screenshots, checked by decoding them here: a small reader that
// verifies the signature, every chunk CRC and IHDR, inflates the IDAT stream
// with zlib and undoes the five line filters.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devices/display/bochs_display.h"
#include "devices/display/display_mode.h"
#include "devices/display/png_encoder.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::display;

namespace {

struct DecodedPng {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::uint8_t> rgb;
  std::vector<std::string> chunks;  // chunk types in order
};

std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
  if (pb <= pc) return static_cast<std::uint8_t>(b);
  return static_cast<std::uint8_t>(c);
}

DecodedPng decode_png(const std::vector<std::uint8_t>& png) {
  DecodedPng out;
  const std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(png.size() >= 8);
  REQUIRE(std::memcmp(png.data(), signature, 8) == 0);
  std::vector<std::uint8_t> idat;
  std::size_t at = 8;
  while (at < png.size()) {
    REQUIRE(png.size() - at >= 12);
    const std::uint32_t length = be32(&png[at]);
    REQUIRE(png.size() - at - 12 >= length);
    const std::string type(png.begin() + static_cast<long>(at) + 4, png.begin() + static_cast<long>(at) + 8);
    const std::uint8_t* data = &png[at + 8];
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), &png[at + 4], 4 + length);
    REQUIRE(be32(data + length) == static_cast<std::uint32_t>(crc));
    out.chunks.push_back(type);
    if (type == "IHDR") {
      REQUIRE(length == 13);
      out.width = be32(data);
      out.height = be32(data + 4);
      REQUIRE(data[8] == 8);   // bit depth
      REQUIRE(data[9] == 2);   // truecolour
      REQUIRE(data[10] == 0);  // deflate
      REQUIRE(data[11] == 0);  // adaptive filtering
      REQUIRE(data[12] == 0);  // not interlaced
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + length);
    }
    at += 12 + length;
  }
  REQUIRE(!out.chunks.empty());
  REQUIRE(out.chunks.front() == "IHDR");
  REQUIRE(out.chunks.back() == "IEND");

  const std::size_t line = std::size_t{out.width} * 3;
  std::vector<std::uint8_t> filtered((line + 1) * out.height);
  uLongf produced = static_cast<uLongf>(filtered.size());
  REQUIRE(uncompress(filtered.data(), &produced, idat.data(), static_cast<uLong>(idat.size())) == Z_OK);
  REQUIRE(produced == filtered.size());

  out.rgb.assign(line * out.height, 0);
  for (std::uint32_t y = 0; y < out.height; ++y) {
    const std::uint8_t filter = filtered[y * (line + 1)];
    const std::uint8_t* in = &filtered[y * (line + 1) + 1];
    std::uint8_t* row = &out.rgb[y * line];
    const std::uint8_t* up = y == 0 ? nullptr : row - line;
    for (std::size_t i = 0; i < line; ++i) {
      const int a = i >= 3 ? row[i - 3] : 0;
      const int b = up != nullptr ? up[i] : 0;
      const int c = (up != nullptr && i >= 3) ? up[i - 3] : 0;
      int predictor = 0;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) / 2; break;
        case 4: predictor = paeth(a, b, c); break;
        default: FAIL("unknown PNG filter " << int{filter});
      }
      row[i] = static_cast<std::uint8_t>(in[i] + predictor);
    }
  }
  return out;
}

// Gradients, flat areas and noise, so every filter wins somewhere.
std::vector<std::uint8_t> test_image(std::uint32_t width, std::uint32_t height) {
  std::vector<std::uint8_t> rgb(std::size_t{width} * height * 3);
  std::uint32_t seed = 12345;
  for (std::uint32_t y = 0; y < height; ++y) {
    for (std::uint32_t x = 0; x < width; ++x) {
      std::uint8_t* p = &rgb[(std::size_t{y} * width + x) * 3];
      seed = seed * 1103515245u + 12345u;
      if (y < height / 3) {
        p[0] = static_cast<std::uint8_t>(x * 7);
        p[1] = static_cast<std::uint8_t>(y * 5);
        p[2] = static_cast<std::uint8_t>(x + y);
      } else if (y < 2 * height / 3) {
        p[0] = 0x20;
        p[1] = 0x40;
        p[2] = x < width / 2 ? 0x80 : 0x10;
      } else {
        p[0] = static_cast<std::uint8_t>(seed >> 16);
        p[1] = static_cast<std::uint8_t>(seed >> 8);
        p[2] = static_cast<std::uint8_t>(seed >> 24);
      }
    }
  }
  return rgb;
}

}  // namespace

TEST_CASE("png: round trip through a decoder, byte for byte") {
  for (auto [width, height] : {std::pair{37u, 23u}, std::pair{1u, 1u}, std::pair{64u, 3u}}) {
    CAPTURE(width);
    const std::vector<std::uint8_t> rgb = test_image(width, height);
    const DecodedPng png = decode_png(encode_png_rgb(width, height, rgb));
    CHECK(png.width == width);
    CHECK(png.height == height);
    CHECK(png.rgb == rgb);
    CHECK(png.chunks == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  }
  // Stored (level 0) deflate decodes the same.
  const std::vector<std::uint8_t> rgb = test_image(20, 20);
  CHECK(decode_png(encode_png_rgb(20, 20, rgb, 0)).rgb == rgb);
}

TEST_CASE("png: large images are split into several IDAT chunks") {
  const std::uint32_t side = 700;  // noise does not compress: > 1 MiB of IDAT
  std::vector<std::uint8_t> rgb(std::size_t{side} * side * 3);
  std::uint32_t seed = 7;
  for (std::uint8_t& byte : rgb) {
    seed = seed * 1664525u + 1013904223u;
    byte = static_cast<std::uint8_t>(seed >> 24);
  }
  const DecodedPng png = decode_png(encode_png_rgb(side, side, rgb));
  CHECK(png.rgb == rgb);
  CHECK(png.chunks.size() >= 4);  // IHDR, 2+ IDAT, IEND
}

TEST_CASE("png: bad sizes are refused") {
  const std::vector<std::uint8_t> rgb(30);
  CHECK(test::expect_error([&] { static_cast<void>(encode_png_rgb(0, 10, rgb)); }).code ==
        ErrorCode::InvalidConfig);
  CHECK(test::expect_error([&] { static_cast<void>(encode_png_rgb(3, 3, rgb)); }).code ==
        ErrorCode::InvalidConfig);
  CHECK(encode_png_rgb(5, 2, rgb).size() > 8);
}

TEST_CASE("png: framebuffer layouts convert to RGB exactly") {
  SUBCASE("x8r8g8b8, padded lines, an offset") {
    const DisplayMode mode{2, 2, 32, 12, 4, false};
    std::vector<std::uint8_t> vram(64, 0xee);
    // Pixel bytes in memory are B, G, R, X.
    const std::uint8_t line0[] = {0x03, 0x02, 0x01, 0xff, 0x06, 0x05, 0x04, 0xff};
    const std::uint8_t line1[] = {0x09, 0x08, 0x07, 0x00, 0x0c, 0x0b, 0x0a, 0x00};
    std::memcpy(&vram[4], line0, 8);
    std::memcpy(&vram[16], line1, 8);
    const std::vector<std::uint8_t> expected{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    CHECK(framebuffer_to_rgb(mode, vram) == expected);
    CHECK(decode_png(encode_framebuffer_png(mode, vram)).rgb == expected);
  }
  SUBCASE("big-endian x8r8g8b8 (bytes X, R, G, B)") {
    const DisplayMode mode{1, 1, 32, 4, 0, true};
    const std::vector<std::uint8_t> vram{0x00, 0x10, 0x20, 0x30};
    CHECK(framebuffer_to_rgb(mode, vram) == std::vector<std::uint8_t>{0x10, 0x20, 0x30});
  }
  SUBCASE("r8g8b8") {
    const DisplayMode mode{2, 1, 24, 6, 0, false};
    const std::vector<std::uint8_t> vram{0x33, 0x22, 0x11, 0x66, 0x55, 0x44};
    CHECK(framebuffer_to_rgb(mode, vram) ==
          std::vector<std::uint8_t>{0x11, 0x22, 0x33, 0x44, 0x55, 0x66});
  }
  SUBCASE("r5g6b5") {
    const DisplayMode mode{3, 1, 16, 6, 0, false};
    // White, pure red, pure blue.
    const std::vector<std::uint8_t> vram{0xff, 0xff, 0x00, 0xf8, 0x1f, 0x00};
    CHECK(framebuffer_to_rgb(mode, vram) ==
          std::vector<std::uint8_t>{255, 255, 255, 255, 0, 0, 0, 0, 255});
  }
  SUBCASE("a mode beyond the VRAM") {
    const DisplayMode mode{16, 16, 32, 64, 0, false};
    const std::vector<std::uint8_t> vram(100);
    CHECK(test::expect_error([&] { static_cast<void>(framebuffer_to_rgb(mode, vram)); }).code ==
          ErrorCode::InvalidState);
  }
}

TEST_CASE("png: the display's screenshot is the visible framebuffer") {
  const auto display = std::make_shared<BochsDisplay>();
  CHECK_FALSE(display->screenshot_png().has_value());  // nothing shown yet
  display->set_initial_mode(16, 8);
  const std::span<std::uint8_t> vram = display->vram();
  std::vector<std::uint8_t> expected(16 * 8 * 3);
  for (std::uint32_t i = 0; i < 16 * 8; ++i) {
    vram[4 * i + 0] = static_cast<std::uint8_t>(i);        // blue
    vram[4 * i + 1] = static_cast<std::uint8_t>(i * 3);    // green
    vram[4 * i + 2] = static_cast<std::uint8_t>(255 - i);  // red
    vram[4 * i + 3] = 0x99;                                // ignored
    expected[3 * i + 0] = static_cast<std::uint8_t>(255 - i);
    expected[3 * i + 1] = static_cast<std::uint8_t>(i * 3);
    expected[3 * i + 2] = static_cast<std::uint8_t>(i);
  }
  const std::optional<std::vector<std::uint8_t>> png = display->screenshot_png();
  REQUIRE(png.has_value());
  const DecodedPng decoded = decode_png(*png);
  CHECK(decoded.width == 16);
  CHECK(decoded.height == 8);
  CHECK(decoded.rgb == expected);
}
