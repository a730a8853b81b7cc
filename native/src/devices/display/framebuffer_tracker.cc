#include "devices/display/framebuffer_tracker.h"

#include <algorithm>
#include <cstring>

#include "common/nestbox_error.h"

namespace nestbox::display {

namespace {

constexpr std::uint32_t kMaxTileSide = 4096;

std::uint32_t ceil_div(std::uint32_t a, std::uint32_t b) { return (a + b - 1) / b; }

}  // namespace

FramebufferTracker::FramebufferTracker(std::uint32_t tile_width, std::uint32_t tile_height)
    : tile_width_(tile_width), tile_height_(tile_height) {
  if (tile_width == 0 || tile_height == 0 || tile_width > kMaxTileSide ||
      tile_height > kMaxTileSide) {
    throw NestboxError(ErrorCode::InvalidConfig, "tile sides must be 1 to 4096 pixels");
  }
}

std::vector<DirtyRect> FramebufferTracker::full_frame(const DisplayMode& mode,
                                                      std::span<const std::uint8_t> vram) {
  const std::uint64_t row_bytes = mode.row_bytes();
  shadow_.resize(row_bytes * mode.height);
  for (std::uint32_t y = 0; y < mode.height; ++y) {
    std::memcpy(shadow_.data() + y * row_bytes,
                vram.data() + mode.offset + std::uint64_t{y} * mode.stride, row_bytes);
  }
  shadow_mode_ = mode;
  full_frame_requested_ = false;
  stats_.full_frame = true;
  stats_.tiles_total = std::uint64_t{ceil_div(mode.width, tile_width_)} *
                       ceil_div(mode.height, tile_height_);
  stats_.tiles_dirty = stats_.tiles_total;
  stats_.bytes_copied = shadow_.size();
  return {DirtyRect{0, 0, mode.width, mode.height}};
}

void FramebufferTracker::mark_dirty_page_tiles(const DisplayMode& mode, std::uint32_t band_top,
                                               std::uint32_t band_rows, const DirtyPages& pages,
                                               std::vector<std::uint8_t>& candidates) const {
  const std::uint64_t page_size = pages.page_size;
  const std::uint32_t bytes = mode.bytes_per_pixel();
  const std::uint64_t row_bytes = mode.row_bytes();
  for (std::uint32_t r = 0; r < band_rows; ++r) {
    const std::uint64_t row_start = mode.offset + std::uint64_t{band_top + r} * mode.stride;
    const std::uint64_t row_end = row_start + row_bytes;
    for (std::uint64_t page = row_start / page_size; page <= (row_end - 1) / page_size; ++page) {
      const std::uint64_t word = page / 64;
      // A bitmap too short to cover this page says nothing about it: compare.
      const bool dirty =
          word >= pages.bitmap.size() || ((pages.bitmap[word] >> (page % 64)) & 1) != 0;
      if (!dirty) continue;
      const std::uint64_t first = std::max(page * page_size, row_start) - row_start;
      const std::uint64_t last = std::min((page + 1) * page_size, row_end) - row_start - 1;
      const auto first_tile = static_cast<std::uint32_t>(first / bytes / tile_width_);
      const auto last_tile = static_cast<std::uint32_t>(last / bytes / tile_width_);
      std::fill(candidates.begin() + first_tile, candidates.begin() + last_tile + 1,
                std::uint8_t{1});
    }
  }
}

std::vector<DirtyRect> FramebufferTracker::collect(const std::optional<DisplayMode>& mode,
                                                   std::span<const std::uint8_t> vram,
                                                   std::optional<DirtyPages> dirty_pages) {
  stats_ = TrackerStats{};
  if (!mode || !mode_fits(*mode, vram.size())) {
    // Nothing visible: whatever comes next is drawn from scratch.
    shadow_mode_.reset();
    shadow_.clear();
    return {};
  }
  if (full_frame_requested_ || shadow_mode_ != *mode) return full_frame(*mode, vram);
  if (dirty_pages && dirty_pages->page_size == 0) dirty_pages.reset();

  const DisplayMode& m = *mode;
  const std::uint32_t bytes = m.bytes_per_pixel();
  const std::uint64_t row_bytes = m.row_bytes();
  const std::uint32_t columns = ceil_div(m.width, tile_width_);
  const std::uint32_t bands = ceil_div(m.height, tile_height_);
  stats_.tiles_total = std::uint64_t{columns} * bands;

  std::vector<DirtyRect> rects;
  // Rectangles that reach the bottom of the previous band: a run in this band
  // with the same columns extends one of them instead of starting anew.
  std::vector<std::size_t> open;
  std::vector<std::size_t> next_open;
  std::vector<std::uint8_t> candidates(columns);
  std::vector<std::uint8_t> dirty(columns);

  for (std::uint32_t band = 0; band < bands; ++band) {
    const std::uint32_t top = band * tile_height_;
    const std::uint32_t rows = std::min(tile_height_, m.height - top);
    if (dirty_pages) {
      std::fill(candidates.begin(), candidates.end(), std::uint8_t{0});
      mark_dirty_page_tiles(m, top, rows, *dirty_pages, candidates);
    } else {
      std::fill(candidates.begin(), candidates.end(), std::uint8_t{1});
    }
    std::fill(dirty.begin(), dirty.end(), std::uint8_t{0});

    // Line by line across the band (sequential reads of guest memory); a tile
    // found different copies the rest of its lines without comparing them.
    for (std::uint32_t r = 0; r < rows; ++r) {
      const std::uint32_t y = top + r;
      const std::uint8_t* source = vram.data() + m.offset + std::uint64_t{y} * m.stride;
      std::uint8_t* shadow = shadow_.data() + std::uint64_t{y} * row_bytes;
      for (std::uint32_t c = 0; c < columns; ++c) {
        if (candidates[c] == 0) continue;
        const std::uint64_t start = std::uint64_t{c} * tile_width_ * bytes;
        const std::uint64_t length =
            std::uint64_t{std::min(tile_width_, m.width - c * tile_width_)} * bytes;
        if (dirty[c] == 0) {
          stats_.bytes_compared += length;
          if (std::memcmp(source + start, shadow + start, length) == 0) continue;
          dirty[c] = 1;
        }
        std::memcpy(shadow + start, source + start, length);
        stats_.bytes_copied += length;
      }
    }
    stats_.tiles_compared += static_cast<std::uint64_t>(std::count(candidates.begin(), candidates.end(), 1));
    stats_.tiles_dirty += static_cast<std::uint64_t>(std::count(dirty.begin(), dirty.end(), 1));

    next_open.clear();
    for (std::uint32_t c = 0; c < columns;) {
      if (dirty[c] == 0) {
        ++c;
        continue;
      }
      std::uint32_t end = c;
      while (end < columns && dirty[end] != 0) ++end;
      const std::uint32_t x = c * tile_width_;
      const std::uint32_t width = std::min(end * tile_width_, m.width) - x;
      const auto above = std::find_if(open.begin(), open.end(), [&](std::size_t index) {
        return rects[index].x == x && rects[index].width == width;
      });
      if (above != open.end()) {
        rects[*above].height += rows;
        next_open.push_back(*above);
      } else {
        rects.push_back(DirtyRect{x, top, width, rows});
        next_open.push_back(rects.size() - 1);
      }
      c = end;
    }
    open.swap(next_open);
  }
  return rects;
}

}  // namespace nestbox::display
