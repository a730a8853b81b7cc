// The monitor's EDID: structure, checksum, and CVT reduced-blanking timings
// checked against the published VESA values for common modes.
#include <doctest/doctest.h>

#include <string>

#include "devices/display/edid.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::display;

namespace {

constexpr std::uint64_t k16MiB = 16ull << 20;
constexpr std::size_t kDtd = 0x36;

struct DecodedTiming {
  std::uint32_t clock_khz, h_active, h_blank, v_active, v_blank, h_front, h_sync, v_front, v_sync;
  std::uint32_t width_mm, height_mm;
  std::uint8_t flags;
};

DecodedTiming decode(const std::uint8_t* d) {
  DecodedTiming t{};
  t.clock_khz = (d[0] | d[1] << 8) * 10u;
  t.h_active = d[2] | (d[4] >> 4) << 8;
  t.h_blank = d[3] | (d[4] & 0xf) << 8;
  t.v_active = d[5] | (d[7] >> 4) << 8;
  t.v_blank = d[6] | (d[7] & 0xf) << 8;
  t.h_front = d[8] | (d[11] >> 6) << 8;
  t.h_sync = d[9] | ((d[11] >> 4) & 3) << 8;
  t.v_front = (d[10] >> 4) | ((d[11] >> 2) & 3) << 4;
  t.v_sync = (d[10] & 0xf) | (d[11] & 3) << 4;
  t.width_mm = d[12] | (d[14] >> 4) << 8;
  t.height_mm = d[13] | (d[14] & 0xf) << 8;
  t.flags = d[17];
  return t;
}

std::string descriptor_text(const EdidBlock& edid, std::uint8_t tag) {
  for (std::size_t d = kDtd; d < kDtd + 4 * 18; d += 18) {
    if (edid[d] == 0 && edid[d + 1] == 0 && edid[d + 3] == tag) {
      return std::string(edid.begin() + static_cast<long>(d) + 5, edid.begin() + static_cast<long>(d) + 18);
    }
  }
  return {};
}

}  // namespace

TEST_CASE("edid: CVT reduced blanking matches VESA's published timings") {
  struct Known {
    std::uint32_t width, height, clock_khz, v_total;
    std::uint16_t v_sync;
  };
  // VESA DMT/CVT "R" (reduced blanking) modes at 60 Hz.
  for (const Known& known : {Known{1024, 768, 56'000, 790, 4}, Known{1280, 800, 71'000, 823, 6},
                             Known{1920, 1080, 138'500, 1111, 5}, Known{1920, 1200, 154'000, 1235, 6},
                             Known{2560, 1600, 268'500, 1646, 6}}) {
    CAPTURE(known.width);
    const DetailedTiming t = cvt_reduced_blanking(known.width, known.height);
    CHECK(t.pixel_clock_khz == known.clock_khz);
    CHECK(t.h_active + t.h_blank == known.width + 160);
    CHECK(t.v_active + t.v_blank == known.v_total);
    CHECK(t.h_front_porch == 48);
    CHECK(t.h_sync == 32);
    CHECK(t.v_front_porch == 3);
    CHECK(t.v_sync == known.v_sync);
    CHECK(t.h_sync_positive);
    CHECK_FALSE(t.v_sync_positive);
  }
  CHECK(test::expect_error([] { static_cast<void>(cvt_reduced_blanking(4096, 2160)); }).code ==
        ErrorCode::InvalidConfig);
  CHECK(test::expect_error([] { static_cast<void>(cvt_reduced_blanking(4000, 4000)); }).code ==
        ErrorCode::InvalidConfig);  // pixel clock beyond 655.35 MHz
}

TEST_CASE("edid: a valid 1.4 base block for the default 1280x800") {
  const EdidBlock edid = build_edid(EdidConfig{}, k16MiB);
  CHECK(edid_checksum(edid) == 0);
  const std::array<std::uint8_t, 8> header{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
  CHECK(std::equal(header.begin(), header.end(), edid.begin()));
  CHECK(edid[0x12] == 1);
  CHECK(edid[0x13] == 4);
  CHECK((edid[0x08] << 8 | edid[0x09]) == (14 << 10 | 2 << 5 | 24));  // "NBX"
  CHECK((edid[0x14] & 0x80) != 0);  // digital input
  CHECK((edid[0x18] & 0x02) != 0);  // the first detailed timing is the preferred mode
  CHECK(edid[0x7e] == 0);           // no extensions

  const DecodedTiming t = decode(edid.data() + kDtd);
  CHECK(t.clock_khz == 71'000);
  CHECK(t.h_active == 1280);
  CHECK(t.h_blank == 160);
  CHECK(t.v_active == 800);
  CHECK(t.v_blank == 23);
  CHECK(t.h_front == 48);
  CHECK(t.h_sync == 32);
  CHECK(t.v_front == 3);
  CHECK(t.v_sync == 6);
  CHECK(t.width_mm == 339);  // 96 dpi
  CHECK(t.height_mm == 212);
  CHECK(t.flags == 0x1a);  // digital separate sync, +hsync, -vsync
  CHECK(edid[0x15] == 34);
  CHECK(edid[0x16] == 21);

  CHECK(descriptor_text(edid, 0xfc) == "Nestbox\n     ");
  // Range limits cover the preferred mode (vertical Hz, horizontal kHz).
  const std::size_t range = kDtd + 18;
  CHECK(edid[range + 3] == 0xfd);
  CHECK(edid[range + 5] <= 60);
  CHECK(edid[range + 6] >= 60);
  CHECK(edid[range + 7] <= 71'000 / 1440);
  CHECK(edid[range + 8] >= 71'000 / 1440);
  CHECK(edid[range + 9] * 10'000u >= 71'000u);

  // Established 640x480, 800x600 and 1024x768, all at 60 Hz.
  CHECK(edid[0x23] == 0x21);
  CHECK(edid[0x24] == 0x08);
  // Standard timings: 1280x720 first (16:9, 60 Hz), and 1920x1200 among them.
  CHECK(edid[0x26] == 1280 / 8 - 31);
  CHECK(edid[0x27] == 0xc0);
  bool has_1920x1200 = false;
  for (std::size_t i = 0; i < 8; ++i) {
    if (edid[0x26 + 2 * i] == 1920 / 8 - 31 && edid[0x27 + 2 * i] == 0x00) has_1920x1200 = true;
  }
  CHECK(has_1920x1200);
}

TEST_CASE("edid: standard timings that do not fit VRAM are left out") {
  const EdidBlock edid = build_edid(EdidConfig{1024, 768}, 4ull << 20);
  CHECK(edid_checksum(edid) == 0);
  // Only 1280x720 (3.7 MB) fits in 4 MiB of the candidates; the rest are unused (01 01).
  CHECK(edid[0x26] == 1280 / 8 - 31);
  for (std::size_t i = 1; i < 8; ++i) {
    CHECK(edid[0x26 + 2 * i] == 0x01);
    CHECK(edid[0x27 + 2 * i] == 0x01);
  }
  const DecodedTiming t = decode(edid.data() + kDtd);
  CHECK(t.h_active == 1024);
  CHECK(t.v_active == 768);
  CHECK(t.clock_khz == 56'000);

  CHECK(test::expect_error([] { static_cast<void>(build_edid(EdidConfig{1280, 800}, 1ull << 20)); })
            .code == ErrorCode::InvalidConfig);
}

TEST_CASE("edid: the preferred mode is not repeated as a standard timing") {
  const EdidBlock edid = build_edid(EdidConfig{1920, 1080}, k16MiB);
  CHECK(edid_checksum(edid) == 0);
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK_FALSE((edid[0x26 + 2 * i] == 1920 / 8 - 31 && edid[0x27 + 2 * i] == 0xc0));
  }
  CHECK(decode(edid.data() + kDtd).clock_khz == 138'500);
}
