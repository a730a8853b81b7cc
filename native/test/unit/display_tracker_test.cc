// Change tracking by tile comparison against a shadow copy, and the optional
// dirty-page input that limits what is compared.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "devices/display/framebuffer_tracker.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::display;

namespace {

struct Screen {
  DisplayMode mode;
  std::vector<std::uint8_t> vram;

  Screen(std::uint32_t width, std::uint32_t height, std::uint32_t bpp = 32, std::uint32_t pad = 0,
         std::uint64_t offset = 0)
      : mode{width, height, bpp, width * (bpp / 8) + pad, offset, false},
        vram(offset + std::uint64_t{mode.stride} * height + 4096, 0) {}

  std::uint8_t* pixel(std::uint32_t x, std::uint32_t y) {
    return vram.data() + mode.offset + std::uint64_t{y} * mode.stride + std::uint64_t{x} * mode.bytes_per_pixel();
  }
  void poke(std::uint32_t x, std::uint32_t y, std::uint8_t value = 0xff) { *pixel(x, y) ^= value; }
};

}  // namespace

TEST_CASE("tracker: first look is the whole frame, then nothing until a change") {
  Screen screen(640, 480);
  FramebufferTracker tracker;
  CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{0, 0, 640, 480}});
  CHECK(tracker.last_stats().full_frame);

  CHECK(tracker.collect(screen.mode, screen.vram).empty());
  const TrackerStats& stats = tracker.last_stats();
  CHECK_FALSE(stats.full_frame);
  CHECK(stats.tiles_total == 10 * 8);
  CHECK(stats.tiles_compared == 10 * 8);
  CHECK(stats.tiles_dirty == 0);
  CHECK(stats.bytes_compared == 640ull * 480 * 4);
  CHECK(stats.bytes_copied == 0);
}

TEST_CASE("tracker: one pixel is one tile") {
  Screen screen(640, 480);
  FramebufferTracker tracker;
  static_cast<void>(tracker.collect(screen.mode, screen.vram));

  screen.poke(130, 70);
  CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{128, 64, 64, 64}});
  CHECK(tracker.last_stats().tiles_dirty == 1);
  CHECK(tracker.collect(screen.mode, screen.vram).empty());  // the shadow caught up

  // Undoing the change is a change too.
  screen.poke(130, 70);
  CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{128, 64, 64, 64}});
}

TEST_CASE("tracker: edge tiles are clipped to the frame") {
  Screen screen(100, 70);  // 2 x 2 tiles, the right and bottom ones partial
  FramebufferTracker tracker;
  static_cast<void>(tracker.collect(screen.mode, screen.vram));
  screen.poke(99, 69);
  CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{64, 64, 36, 6}});
}

TEST_CASE("tracker: neighbouring tiles merge into larger rectangles") {
  Screen screen(512, 256);
  FramebufferTracker tracker;
  static_cast<void>(tracker.collect(screen.mode, screen.vram));

  SUBCASE("along a band") {
    screen.poke(10, 10);
    screen.poke(70, 10);
    screen.poke(140, 20);
    screen.poke(400, 5);
    CHECK(tracker.collect(screen.mode, screen.vram) ==
          std::vector<DirtyRect>{{0, 0, 192, 64}, {384, 0, 64, 64}});
  }
  SUBCASE("down a column of bands") {
    screen.poke(10, 10);
    screen.poke(70, 10);
    screen.poke(10, 100);
    screen.poke(70, 100);
    screen.poke(10, 200);
    CHECK(tracker.collect(screen.mode, screen.vram) ==
          std::vector<DirtyRect>{{0, 0, 128, 128}, {0, 192, 64, 64}});
  }
  SUBCASE("everything") {
    for (std::uint32_t y = 0; y < 256; y += 64) {
      for (std::uint32_t x = 0; x < 512; x += 64) screen.poke(x, y);
    }
    CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{0, 0, 512, 256}});
  }
}

TEST_CASE("tracker: mode changes and requests give a full frame") {
  Screen screen(640, 480);
  FramebufferTracker tracker;
  static_cast<void>(tracker.collect(screen.mode, screen.vram));

  SUBCASE("new geometry") {
    DisplayMode smaller = screen.mode;
    smaller.width = 320;
    smaller.height = 240;
    CHECK(tracker.collect(smaller, screen.vram) == std::vector<DirtyRect>{{0, 0, 320, 240}});
  }
  SUBCASE("panned") {
    DisplayMode panned = screen.mode;
    panned.offset = screen.mode.stride;
    CHECK(tracker.collect(panned, screen.vram) == std::vector<DirtyRect>{{0, 0, 640, 480}});
  }
  SUBCASE("byte order") {
    DisplayMode swapped = screen.mode;
    swapped.big_endian = true;
    CHECK(tracker.collect(swapped, screen.vram).size() == 1);
    CHECK(tracker.last_stats().full_frame);
  }
  SUBCASE("asked for") {
    tracker.request_full_frame();
    CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{0, 0, 640, 480}});
    CHECK(tracker.collect(screen.mode, screen.vram).empty());
  }
  SUBCASE("blanked and back") {
    CHECK(tracker.collect(std::nullopt, screen.vram).empty());
    CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{0, 0, 640, 480}});
  }
  SUBCASE("a mode outside the VRAM shows nothing") {
    DisplayMode beyond = screen.mode;
    beyond.offset = screen.vram.size();
    CHECK(tracker.collect(beyond, screen.vram).empty());
    CHECK(tracker.collect(screen.mode, screen.vram).size() == 1);
  }
}

TEST_CASE("tracker: padded lines, offsets and other depths") {
  for (std::uint32_t bpp : {16u, 24u, 32u}) {
    CAPTURE(bpp);
    Screen screen(200, 100, bpp, 12, 4096 * 3 + 8);
    FramebufferTracker tracker(32, 16);
    static_cast<void>(tracker.collect(screen.mode, screen.vram));
    // Bytes in the padding after a line are not part of the picture.
    screen.vram[screen.mode.offset + screen.mode.row_bytes()] ^= 1;
    CHECK(tracker.collect(screen.mode, screen.vram).empty());
    screen.poke(199, 99);
    screen.pixel(199, 99)[screen.mode.bytes_per_pixel() - 1] ^= 0x0f;  // the pixel's last byte
    CHECK(tracker.collect(screen.mode, screen.vram) == std::vector<DirtyRect>{{192, 96, 8, 4}});
  }
}

TEST_CASE("tracker: a dirty-page bitmap limits what is compared") {
  Screen screen(1024, 256);  // 4096-byte lines: one page per line
  FramebufferTracker tracker;
  static_cast<void>(tracker.collect(screen.mode, screen.vram));

  screen.poke(10, 10);   // line 10 → page 10, tile (0, 0)
  screen.poke(900, 70);  // line 70 → page 70, tile (14, 1)
  std::vector<std::uint64_t> bitmap(4, 0);
  bitmap[0] |= 1ull << 10;
  // Only page 10 reported: only its band's tiles touching it are compared.
  CHECK(tracker.collect(screen.mode, screen.vram, DirtyPages{bitmap}) ==
        std::vector<DirtyRect>{{0, 0, 64, 64}});
  CHECK(tracker.last_stats().tiles_compared == 16);  // one line = the whole band's width

  // A page written with identical bytes gives nothing.
  CHECK(tracker.collect(screen.mode, screen.vram, DirtyPages{bitmap}).empty());
  // The change the bitmap did not mention shows up once a comparison covers it.
  bitmap.assign(4, 0);
  bitmap[1] |= 1ull << (70 - 64);
  CHECK(tracker.collect(screen.mode, screen.vram, DirtyPages{bitmap}) ==
        std::vector<DirtyRect>{{896, 64, 64, 64}});
  // No bits: nothing compared at all.
  bitmap.assign(4, 0);
  CHECK(tracker.collect(screen.mode, screen.vram, DirtyPages{bitmap}).empty());
  CHECK(tracker.last_stats().tiles_compared == 0);
  CHECK(tracker.last_stats().bytes_compared == 0);
  // A bitmap too short to cover the frame: the rest is compared anyway.
  screen.poke(5, 250);
  const std::vector<std::uint64_t> short_bitmap(1, 0);
  CHECK(tracker.collect(screen.mode, screen.vram, DirtyPages{short_bitmap}) ==
        std::vector<DirtyRect>{{0, 192, 64, 64}});
}

TEST_CASE("tracker: pages narrower than a line mark only the tiles they cover") {
  Screen screen(2048, 64);  // 8192-byte lines, two pages each
  FramebufferTracker tracker;
  static_cast<void>(tracker.collect(screen.mode, screen.vram));
  screen.poke(100, 3);   // first page of line 3
  screen.poke(1500, 3);  // second page of line 3
  std::vector<std::uint64_t> bitmap(2, 0);
  bitmap[0] |= 1ull << 7;  // line 3's second page only (pixels 1024-2047)
  CHECK(tracker.collect(screen.mode, screen.vram, DirtyPages{bitmap}) ==
        std::vector<DirtyRect>{{1472, 0, 64, 64}});
  CHECK(tracker.last_stats().tiles_compared == 16);
}

TEST_CASE("tracker: a 2560x1600 frame (the API a benchmark drives)") {
  Screen screen(2560, 1600);
  FramebufferTracker tracker;
  static_cast<void>(tracker.collect(screen.mode, screen.vram));
  for (int frame = 0; frame < 3; ++frame) {
    screen.poke(static_cast<std::uint32_t>(frame * 700), static_cast<std::uint32_t>(frame * 500));
    const std::vector<DirtyRect> rects = tracker.collect(screen.mode, screen.vram);
    CHECK(rects.size() == 1);
    // Every tile compared; a dirty tile stops comparing at its first changed line.
    CHECK(tracker.last_stats().tiles_total == 40 * 25);
    CHECK(tracker.last_stats().tiles_compared == 40 * 25);
    CHECK(tracker.last_stats().bytes_compared <= 2560ull * 1600 * 4);
    CHECK(tracker.last_stats().bytes_compared >= 2560ull * 1600 * 4 - 64 * 64 * 4);
  }
}

TEST_CASE("tracker: tile sizes are checked") {
  CHECK(test::expect_error([] { FramebufferTracker tracker(0, 64); }).code == ErrorCode::InvalidConfig);
  CHECK(test::expect_error([] { FramebufferTracker tracker(64, 5000); }).code == ErrorCode::InvalidConfig);
}
