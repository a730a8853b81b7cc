// The EDID our virtual monitor reports (VESA E-EDID 1.4, one 128-byte base
// block, no extensions). The guest reads it from the display's MMIO BAR at
// offset 0 (Linux bochs-drm, OVMF) to learn the preferred mode, so the choice
// of preferred resolution is what decides a guest desktop's initial size.
//
// Content: manufacturer "NBX", digital input, sRGB, a detailed timing for the
// preferred mode (CVT reduced blanking at 60 Hz, computed here), the
// established 640x480/800x600/1024x768 modes and common standard timings
// that fit in video memory, generous range limits and a product name.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace nestbox::display {

inline constexpr std::size_t kEdidBlockSize = 128;
using EdidBlock = std::array<std::uint8_t, kEdidBlockSize>;

struct EdidConfig {
  std::uint32_t preferred_width = 1280;
  std::uint32_t preferred_height = 800;
  friend bool operator==(const EdidConfig&, const EdidConfig&) = default;
};

// A detailed timing in the units an EDID stores (pixel clock a multiple of
// 10 kHz; every field fits its EDID bit width).
struct DetailedTiming {
  std::uint32_t pixel_clock_khz = 0;
  std::uint16_t h_active = 0, h_blank = 0, h_front_porch = 0, h_sync = 0;
  std::uint16_t v_active = 0, v_blank = 0, v_front_porch = 0, v_sync = 0;
  bool h_sync_positive = true;
  bool v_sync_positive = false;
};

// VESA CVT 1.x reduced-blanking (v1) timing for width x height at `refresh`
// Hz. Throws NestboxError (InvalidConfig) when an EDID cannot describe it
// (sides above 4095 pixels or a pixel clock above 655.35 MHz).
[[nodiscard]] DetailedTiming cvt_reduced_blanking(std::uint32_t width, std::uint32_t height,
                                                  std::uint32_t refresh_hz = 60);

// The EDID for `config`. Standard timings larger than `vram_size` at 32 bpp
// are left out (a guest would offer modes it cannot set). Throws NestboxError
// (InvalidConfig) when the preferred mode itself cannot be described.
[[nodiscard]] EdidBlock build_edid(const EdidConfig& config, std::uint64_t vram_size);

// Sum of all 128 bytes modulo 256; 0 for a valid block.
[[nodiscard]] std::uint8_t edid_checksum(const EdidBlock& block);

}  // namespace nestbox::display
