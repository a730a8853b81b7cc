// Which parts of the guest's screen changed since the last look.
//
// KVM's dirty-page log is the cheap answer on hardware, but it reports
// nothing on the nested KVM the project's machines run (PLATFORM-NOTES,
// "Dirty-page logging reports nothing here"), so the mechanism that works
// everywhere is a shadow copy of the visible image compared tile by tile.
// collect() reads the whole visible framebuffer once (memcmp per tile line,
// memcpy only for lines of tiles that changed): its cost is proportional to
// the framebuffer, paid only when the display stream asks (at most once per
// refresh), and nothing happens between calls.
//
// When a dirty-page bitmap for the VRAM is available (KVM_GET_DIRTY_LOG on
// the BAR 0 slot, on hardware where it works), collect() takes it and
// compares only the tiles that touch a dirty page; the comparison still runs
// on those, so a page written with the same bytes yields no rectangle.
//
// A mode change (geometry, offset, byte order), the first call, a blanked
// display coming back, and request_full_frame() all yield one rectangle
// covering the whole frame.
//
// Not thread-safe: one tracker per display stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "devices/display/display_mode.h"

namespace nestbox::display {

struct DirtyRect {
  std::uint32_t x = 0;
  std::uint32_t y = 0;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  friend bool operator==(const DirtyRect&, const DirtyRect&) = default;
};

// Bit n of `bitmap` (64 pages per word, least significant bit first — KVM's
// dirty log layout) says VRAM page n may have been written since the last
// collect().
struct DirtyPages {
  std::span<const std::uint64_t> bitmap;
  std::uint64_t page_size = 4096;
};

// What the last collect() did, for benchmarks and diagnostics.
struct TrackerStats {
  bool full_frame = false;
  std::uint64_t tiles_total = 0;
  std::uint64_t tiles_compared = 0;
  std::uint64_t tiles_dirty = 0;
  std::uint64_t bytes_compared = 0;
  std::uint64_t bytes_copied = 0;
};

class FramebufferTracker {
 public:
  static constexpr std::uint32_t kDefaultTileSize = 64;

  // Tile sides in pixels (1-4096). Throws NestboxError (InvalidConfig) otherwise.
  explicit FramebufferTracker(std::uint32_t tile_width = kDefaultTileSize,
                              std::uint32_t tile_height = kDefaultTileSize);

  // The rectangles (in visible-frame pixels, inside the frame, not
  // overlapping, ordered top to bottom then left to right) that differ from
  // what the previous call saw, and the shadow updated to the current image.
  // `mode` nullopt (display off or blanked) forgets the shadow and returns
  // nothing. A mode that does not fit `vram` is treated like nullopt.
  std::vector<DirtyRect> collect(const std::optional<DisplayMode>& mode,
                                 std::span<const std::uint8_t> vram,
                                 std::optional<DirtyPages> dirty_pages = std::nullopt);

  // The next collect() returns the whole frame (e.g. a new viewer attached).
  void request_full_frame() { full_frame_requested_ = true; }

  [[nodiscard]] const TrackerStats& last_stats() const { return stats_; }
  [[nodiscard]] std::uint32_t tile_width() const { return tile_width_; }
  [[nodiscard]] std::uint32_t tile_height() const { return tile_height_; }

 private:
  std::vector<DirtyRect> full_frame(const DisplayMode& mode, std::span<const std::uint8_t> vram);
  // Marks in `candidates` the tiles of band `band_top` touching a dirty page.
  void mark_dirty_page_tiles(const DisplayMode& mode, std::uint32_t band_top,
                             std::uint32_t band_rows, const DirtyPages& pages,
                             std::vector<std::uint8_t>& candidates) const;

  std::uint32_t tile_width_;
  std::uint32_t tile_height_;
  std::optional<DisplayMode> shadow_mode_;
  std::vector<std::uint8_t> shadow_;  // visible lines packed (row_bytes each)
  bool full_frame_requested_ = false;
  TrackerStats stats_;
};

}  // namespace nestbox::display
