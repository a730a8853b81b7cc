// What a guest display shows: the geometry of the visible part of a linear
// framebuffer inside the display's VRAM, and the helpers every consumer of a
// mode needs (the change tracker, the screenshot, the display stream) to find
// its bytes safely.
//
// Pixel layouts (all "packed", one pixel = bpp / 8 bytes, read as an integer
// in the framebuffer's byte order):
//   32 bpp  x8r8g8b8  (little endian: bytes B, G, R, X — DRM XRGB8888)
//   24 bpp  r8g8b8    (little endian: bytes B, G, R)
//   16 bpp  r5g6b5
// A big-endian framebuffer (the QEMU extension register at BAR2 + 0x604) holds
// the same integers with their bytes reversed (32 bpp: X, R, G, B — BGRX8888).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace nestbox::display {

struct DisplayMode {
  std::uint32_t width = 0;   // visible pixels per line
  std::uint32_t height = 0;  // visible lines
  std::uint32_t bpp = 32;    // 16, 24 or 32
  std::uint32_t stride = 0;  // bytes from one line to the next (≥ width * bpp / 8)
  std::uint64_t offset = 0;  // VRAM byte offset of the top-left visible pixel
  bool big_endian = false;

  [[nodiscard]] std::uint32_t bytes_per_pixel() const { return bpp / 8; }
  [[nodiscard]] std::uint64_t row_bytes() const { return std::uint64_t{width} * bytes_per_pixel(); }
  // Bytes from the first visible byte to one past the last one.
  [[nodiscard]] std::uint64_t span_bytes() const {
    return height == 0 ? 0 : std::uint64_t{stride} * (height - 1) + row_bytes();
  }
  friend bool operator==(const DisplayMode&, const DisplayMode&) = default;
};

// True when the mode is well-formed (supported bpp, non-empty, stride holds a
// line) and every visible byte lies inside a VRAM of `vram_size` bytes.
[[nodiscard]] bool mode_fits(const DisplayMode& mode, std::uint64_t vram_size);

// The visible image as tightly packed 8-bit R, G, B triplets (width * 3 bytes
// per line). Throws NestboxError (InvalidState) when the mode does not fit `vram`.
[[nodiscard]] std::vector<std::uint8_t> framebuffer_to_rgb(const DisplayMode& mode,
                                                           std::span<const std::uint8_t> vram);

}  // namespace nestbox::display
