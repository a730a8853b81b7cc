#include "devices/display/edid.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <string_view>

#include "common/nestbox_error.h"

namespace nestbox::display {

namespace {

// Byte offsets in the base block (VESA E-EDID 1.4, section 3).
constexpr std::size_t kManufacturer = 0x08;
constexpr std::size_t kProductCode = 0x0a;
constexpr std::size_t kWeek = 0x10;
constexpr std::size_t kYear = 0x11;
constexpr std::size_t kVersion = 0x12;
constexpr std::size_t kRevision = 0x13;
constexpr std::size_t kVideoInput = 0x14;
constexpr std::size_t kWidthCm = 0x15;
constexpr std::size_t kHeightCm = 0x16;
constexpr std::size_t kGamma = 0x17;
constexpr std::size_t kFeatures = 0x18;
constexpr std::size_t kChromaticity = 0x19;
constexpr std::size_t kEstablished = 0x23;
constexpr std::size_t kStandardTimings = 0x26;
constexpr std::size_t kStandardTimingCount = 8;
constexpr std::size_t kDescriptors = 0x36;
constexpr std::size_t kDescriptorSize = 18;
constexpr std::size_t kExtensionCount = 0x7e;
constexpr std::size_t kChecksum = 0x7f;

// Digital input, 8 bits per primary, DisplayPort-style interface.
constexpr std::uint8_t kDigitalInput = 0x80 | (0x2 << 4) | 0x5;
// sRGB is the default colour space; the preferred timing is the native mode.
constexpr std::uint8_t kFeatureSrgb = 1 << 2;
constexpr std::uint8_t kFeaturePreferredIsNative = 1 << 1;
// Pixel density the image size is derived from (a typical desktop monitor).
constexpr double kDotsPerInch = 96.0;

constexpr std::uint32_t kMaxPixelClockKhz = 655'350;  // 16 bits of 10 kHz

struct Resolution {
  std::uint32_t width;
  std::uint32_t height;
};

// Standard timing aspect codes (bits 7-6 of the second byte, EDID 1.3+).
enum class Aspect : std::uint8_t { k16x10 = 0, k4x3 = 1, k5x4 = 2, k16x9 = 3 };

struct StandardTiming {
  Resolution size;
  Aspect aspect;
};

constexpr std::array<StandardTiming, kStandardTimingCount> kStandardCandidates{{
    {{1280, 720}, Aspect::k16x9},
    {{1280, 1024}, Aspect::k5x4},
    {{1440, 900}, Aspect::k16x10},
    {{1600, 900}, Aspect::k16x9},
    {{1600, 1200}, Aspect::k4x3},
    {{1680, 1050}, Aspect::k16x10},
    {{1920, 1080}, Aspect::k16x9},
    {{1920, 1200}, Aspect::k16x10},
}};

// CVT's vertical sync width tells a monitor the aspect ratio (CVT 1.2, table 3-2).
std::uint16_t cvt_vsync_width(std::uint32_t width, std::uint32_t height) {
  const auto is = [&](std::uint32_t w, std::uint32_t h) { return width * h == height * w; };
  if (is(4, 3)) return 4;
  if (is(16, 9)) return 5;
  if (is(16, 10)) return 6;
  if (is(5, 4) || is(15, 9)) return 7;
  return 10;
}

std::uint16_t to_10bit(double coordinate) {
  return static_cast<std::uint16_t>(std::lround(coordinate * 1024.0));
}

void put_descriptor_text(std::uint8_t* descriptor, std::uint8_t tag, std::string_view text) {
  descriptor[3] = tag;
  // Up to 13 characters, then a line feed, then spaces (E-EDID 1.4, 3.10.3).
  std::uint8_t* field = descriptor + 5;
  std::size_t i = 0;
  for (; i < text.size() && i < 13; ++i) field[i] = static_cast<std::uint8_t>(text[i]);
  if (i < 13) field[i++] = 0x0a;
  for (; i < 13; ++i) field[i] = 0x20;
}

void put_detailed_timing(std::uint8_t* d, const DetailedTiming& t, std::uint32_t width_mm,
                         std::uint32_t height_mm) {
  const std::uint32_t clock = t.pixel_clock_khz / 10;
  d[0] = static_cast<std::uint8_t>(clock);
  d[1] = static_cast<std::uint8_t>(clock >> 8);
  d[2] = static_cast<std::uint8_t>(t.h_active);
  d[3] = static_cast<std::uint8_t>(t.h_blank);
  d[4] = static_cast<std::uint8_t>(((t.h_active >> 8) & 0xf) << 4 | ((t.h_blank >> 8) & 0xf));
  d[5] = static_cast<std::uint8_t>(t.v_active);
  d[6] = static_cast<std::uint8_t>(t.v_blank);
  d[7] = static_cast<std::uint8_t>(((t.v_active >> 8) & 0xf) << 4 | ((t.v_blank >> 8) & 0xf));
  d[8] = static_cast<std::uint8_t>(t.h_front_porch);
  d[9] = static_cast<std::uint8_t>(t.h_sync);
  d[10] = static_cast<std::uint8_t>((t.v_front_porch & 0xf) << 4 | (t.v_sync & 0xf));
  d[11] = static_cast<std::uint8_t>(((t.h_front_porch >> 8) & 0x3) << 6 |
                                    ((t.h_sync >> 8) & 0x3) << 4 |
                                    ((t.v_front_porch >> 4) & 0x3) << 2 | ((t.v_sync >> 4) & 0x3));
  d[12] = static_cast<std::uint8_t>(width_mm);
  d[13] = static_cast<std::uint8_t>(height_mm);
  d[14] = static_cast<std::uint8_t>(((width_mm >> 8) & 0xf) << 4 | ((height_mm >> 8) & 0xf));
  d[15] = 0;  // no borders
  d[16] = 0;
  // Non-interlaced, digital separate sync (bits 4-3 = 11), sync polarities.
  d[17] = static_cast<std::uint8_t>(0x18 | (t.v_sync_positive ? 0x04 : 0) |
                                    (t.h_sync_positive ? 0x02 : 0));
}

}  // namespace

DetailedTiming cvt_reduced_blanking(std::uint32_t width, std::uint32_t height,
                                    std::uint32_t refresh_hz) {
  if (width == 0 || height == 0 || width > 4095 || height > 4095 || refresh_hz == 0) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "an EDID cannot describe a " + std::to_string(width) + "x" +
                           std::to_string(height) + " mode");
  }
  // CVT reduced blanking v1: fixed horizontal blanking of 160 pixels (front
  // porch 48, sync 32), vertical front porch 3, back porch at least 6, and a
  // vertical blanking interval of at least 460 µs.
  constexpr std::uint32_t kHBlank = 160, kHFront = 48, kHSync = 32;
  constexpr std::uint32_t kVFront = 3, kMinVBackPorch = 6;
  constexpr double kMinVBlankMicroseconds = 460.0;
  const std::uint16_t v_sync = cvt_vsync_width(width, height);
  const double line_period = (1'000'000.0 / refresh_hz - kMinVBlankMicroseconds) / height;
  const auto vbi_lines = static_cast<std::uint32_t>(kMinVBlankMicroseconds / line_period) + 1;
  const std::uint32_t v_blank = std::max(vbi_lines, kVFront + v_sync + kMinVBackPorch);
  const std::uint64_t h_total = width + kHBlank;
  const std::uint64_t v_total = height + v_blank;
  // CVT rounds the pixel clock down to a multiple of 0.25 MHz.
  const std::uint64_t clock_hz = refresh_hz * h_total * v_total;
  const auto clock_khz = static_cast<std::uint32_t>(clock_hz / 250'000 * 250);
  if (clock_khz > kMaxPixelClockKhz || v_blank > 4095) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "the " + std::to_string(width) + "x" + std::to_string(height) +
                           " mode needs a pixel clock an EDID cannot describe");
  }
  DetailedTiming timing;
  timing.pixel_clock_khz = clock_khz;
  timing.h_active = static_cast<std::uint16_t>(width);
  timing.h_blank = kHBlank;
  timing.h_front_porch = kHFront;
  timing.h_sync = kHSync;
  timing.v_active = static_cast<std::uint16_t>(height);
  timing.v_blank = static_cast<std::uint16_t>(v_blank);
  timing.v_front_porch = kVFront;
  timing.v_sync = v_sync;
  timing.h_sync_positive = true;  // reduced blanking: +hsync, -vsync
  timing.v_sync_positive = false;
  return timing;
}

std::uint8_t edid_checksum(const EdidBlock& block) {
  return static_cast<std::uint8_t>(
      std::accumulate(block.begin(), block.end(), std::uint32_t{0}) & 0xff);
}

EdidBlock build_edid(const EdidConfig& config, std::uint64_t vram_size) {
  const DetailedTiming preferred =
      cvt_reduced_blanking(config.preferred_width, config.preferred_height);
  const auto fits = [&](std::uint32_t width, std::uint32_t height) {
    return std::uint64_t{width} * height * 4 <= vram_size;
  };
  if (!fits(config.preferred_width, config.preferred_height)) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "the preferred display mode does not fit in video memory");
  }

  EdidBlock edid{};
  constexpr std::array<std::uint8_t, 8> kHeader{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
  std::copy(kHeader.begin(), kHeader.end(), edid.begin());

  // Manufacturer "NBX": three 5-bit letters (A = 1), big-endian.
  const std::uint16_t manufacturer = ('N' - 'A' + 1) << 10 | ('B' - 'A' + 1) << 5 | ('X' - 'A' + 1);
  edid[kManufacturer] = static_cast<std::uint8_t>(manufacturer >> 8);
  edid[kManufacturer + 1] = static_cast<std::uint8_t>(manufacturer);
  edid[kProductCode] = 0x01;  // little-endian product code 0x0001
  edid[kWeek] = 1;
  edid[kYear] = 2024 - 1990;
  edid[kVersion] = 1;
  edid[kRevision] = 4;
  edid[kVideoInput] = kDigitalInput;

  const double width_mm = config.preferred_width * 25.4 / kDotsPerInch;
  const double height_mm = config.preferred_height * 25.4 / kDotsPerInch;
  edid[kWidthCm] = static_cast<std::uint8_t>(std::clamp(std::lround(width_mm / 10.0), 1l, 255l));
  edid[kHeightCm] = static_cast<std::uint8_t>(std::clamp(std::lround(height_mm / 10.0), 1l, 255l));
  edid[kGamma] = 220 - 100;  // gamma 2.2
  edid[kFeatures] = kFeatureSrgb | kFeaturePreferredIsNative;

  // sRGB primaries and D65 white point as 10-bit fractions: the low two bits
  // of each are packed into the first two bytes, the high eight follow.
  const std::array<std::uint16_t, 8> chroma{to_10bit(0.640), to_10bit(0.330), to_10bit(0.300),
                                            to_10bit(0.600), to_10bit(0.150), to_10bit(0.060),
                                            to_10bit(0.3127), to_10bit(0.3290)};
  edid[kChromaticity] = static_cast<std::uint8_t>((chroma[0] & 3) << 6 | (chroma[1] & 3) << 4 |
                                                  (chroma[2] & 3) << 2 | (chroma[3] & 3));
  edid[kChromaticity + 1] = static_cast<std::uint8_t>((chroma[4] & 3) << 6 | (chroma[5] & 3) << 4 |
                                                      (chroma[6] & 3) << 2 | (chroma[7] & 3));
  for (std::size_t i = 0; i < chroma.size(); ++i) {
    edid[kChromaticity + 2 + i] = static_cast<std::uint8_t>(chroma[i] >> 2);
  }

  // Established timings I/II: 640x480@60 (bit 5), 800x600@60 (bit 0), 1024x768@60 (bit 3).
  edid[kEstablished] = (1 << 5) | (1 << 0);
  edid[kEstablished + 1] = fits(1024, 768) ? (1 << 3) : 0;
  edid[kEstablished + 2] = 0;

  std::size_t standard = 0;
  for (const StandardTiming& candidate : kStandardCandidates) {
    if (!fits(candidate.size.width, candidate.size.height)) continue;
    if (candidate.size.width == config.preferred_width &&
        candidate.size.height == config.preferred_height) {
      continue;  // already the detailed timing
    }
    edid[kStandardTimings + 2 * standard] = static_cast<std::uint8_t>(candidate.size.width / 8 - 31);
    edid[kStandardTimings + 2 * standard + 1] =
        static_cast<std::uint8_t>(static_cast<std::uint8_t>(candidate.aspect) << 6 | (60 - 60));
    ++standard;
  }
  for (; standard < kStandardTimingCount; ++standard) {
    edid[kStandardTimings + 2 * standard] = 0x01;  // unused slot
    edid[kStandardTimings + 2 * standard + 1] = 0x01;
  }

  // Descriptor 1: the preferred mode.
  put_detailed_timing(edid.data() + kDescriptors, preferred,
                      static_cast<std::uint32_t>(std::lround(width_mm)),
                      static_cast<std::uint32_t>(std::lround(height_mm)));
  // Descriptor 2: range limits, wide enough for every mode above (vertical
  // 48-75 Hz, horizontal 30-160 kHz, pixel clock up to 660 MHz), no formula.
  std::uint8_t* range = edid.data() + kDescriptors + kDescriptorSize;
  range[3] = 0xfd;
  range[5] = 48;
  range[6] = 75;
  range[7] = 30;
  range[8] = 160;
  range[9] = 66;    // in 10 MHz units
  range[10] = 0x01;  // range limits only
  range[11] = 0x0a;
  std::fill(range + 12, range + kDescriptorSize, std::uint8_t{0x20});
  // Descriptor 3: the product name; descriptor 4: a dummy descriptor.
  put_descriptor_text(edid.data() + kDescriptors + 2 * kDescriptorSize, 0xfc, "Nestbox");
  edid[kDescriptors + 3 * kDescriptorSize + 3] = 0x10;

  edid[kExtensionCount] = 0;
  edid[kChecksum] = static_cast<std::uint8_t>(0x100 - edid_checksum(edid)) & 0xff;
  return edid;
}

}  // namespace nestbox::display
