// Screenshots as PNG (ISO/IEC 15948): 8-bit truecolour (colour type 2), no
// interlace, each line filtered with whichever of the five standard filters
// leaves the smallest sum of absolute differences (the usual heuristic),
// deflated with zlib, split into IDAT chunks of at most 1 MiB.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "devices/display/display_mode.h"

namespace nestbox::display {

// `rgb`: `height` lines of `width` R, G, B byte triplets, tightly packed.
// `compression_level` is zlib's (0-9; -1 = zlib's default). Throws
// NestboxError (InvalidConfig) for an empty image, a size that does not match
// `rgb`, or sides above 2^31 - 1.
[[nodiscard]] std::vector<std::uint8_t> encode_png_rgb(std::uint32_t width, std::uint32_t height,
                                                       std::span<const std::uint8_t> rgb,
                                                       int compression_level = -1);

// The visible part of a framebuffer (any DisplayMode layout) as a PNG.
[[nodiscard]] std::vector<std::uint8_t> encode_framebuffer_png(const DisplayMode& mode,
                                                               std::span<const std::uint8_t> vram,
                                                               int compression_level = -1);

}  // namespace nestbox::display
