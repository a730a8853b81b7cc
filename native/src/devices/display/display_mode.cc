#include "devices/display/display_mode.h"

#include "common/nestbox_error.h"

namespace nestbox::display {

namespace {

// Scales an n-bit channel to 8 bits so that full intensity stays 255.
constexpr std::uint8_t widen(std::uint32_t value, unsigned bits) {
  return static_cast<std::uint8_t>((value * 255 + ((1u << bits) - 1) / 2) / ((1u << bits) - 1));
}

}  // namespace

bool mode_fits(const DisplayMode& mode, std::uint64_t vram_size) {
  if (mode.bpp != 16 && mode.bpp != 24 && mode.bpp != 32) return false;
  if (mode.width == 0 || mode.height == 0 || mode.stride < mode.row_bytes()) return false;
  return mode.offset <= vram_size && mode.span_bytes() <= vram_size - mode.offset;
}

std::vector<std::uint8_t> framebuffer_to_rgb(const DisplayMode& mode,
                                             std::span<const std::uint8_t> vram) {
  if (!mode_fits(mode, vram.size())) {
    throw NestboxError(ErrorCode::InvalidState, "the display mode does not fit in video memory");
  }
  const std::uint32_t bytes = mode.bytes_per_pixel();
  std::vector<std::uint8_t> rgb(std::uint64_t{mode.width} * mode.height * 3);
  std::uint8_t* out = rgb.data();
  for (std::uint32_t y = 0; y < mode.height; ++y) {
    const std::uint8_t* line = vram.data() + mode.offset + std::uint64_t{y} * mode.stride;
    if (mode.bpp == 32 && !mode.big_endian) {
      // The common case (every Linux and UEFI driver on x86) without the
      // generic per-byte assembly below.
      for (std::uint32_t x = 0; x < mode.width; ++x, line += 4, out += 3) {
        out[0] = line[2];
        out[1] = line[1];
        out[2] = line[0];
      }
      continue;
    }
    for (std::uint32_t x = 0; x < mode.width; ++x, line += bytes, out += 3) {
      std::uint32_t pixel = 0;
      for (std::uint32_t i = 0; i < bytes; ++i) {
        const std::uint32_t shift = mode.big_endian ? 8 * (bytes - 1 - i) : 8 * i;
        pixel |= std::uint32_t{line[i]} << shift;
      }
      if (mode.bpp == 16) {
        out[0] = widen((pixel >> 11) & 0x1f, 5);
        out[1] = widen((pixel >> 5) & 0x3f, 6);
        out[2] = widen(pixel & 0x1f, 5);
      } else {
        out[0] = static_cast<std::uint8_t>(pixel >> 16);
        out[1] = static_cast<std::uint8_t>(pixel >> 8);
        out[2] = static_cast<std::uint8_t>(pixel);
      }
    }
  }
  return rgb;
}

}  // namespace nestbox::display
