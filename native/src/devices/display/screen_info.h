// Direct kernel boot with a picture from the first instant: the loader
// describes the display's linear framebuffer in boot_params.screen_info the
// way the EFI stub does after asking GOP (orig_video_isVGA = VIDEO_TYPE_EFI),
// so the kernel's efifb / simplefb / simpledrm draws the console before any
// PCI display driver loads; bochs-drm later takes the framebuffer over.
//
// Offsets: struct screen_info sits at boot_params offset 0
// (Documentation/arch/x86/zero-page.rst); its fields as in
// include/uapi/linux/screen_info.h. Only the 32-bit x8r8g8b8 layout is
// described (what every driver of this display and GOP use).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace nestbox::display {

namespace screen_info {
inline constexpr std::size_t kBootParamsOffset = 0x000;  // boot_params.screen_info
inline constexpr std::size_t kSize = 0x40;
inline constexpr std::size_t kOrigVideoIsVga = 0x0f;
inline constexpr std::size_t kLfbWidth = 0x12;
inline constexpr std::size_t kLfbHeight = 0x14;
inline constexpr std::size_t kLfbDepth = 0x16;
inline constexpr std::size_t kLfbBase = 0x18;
inline constexpr std::size_t kLfbSize = 0x1c;
inline constexpr std::size_t kLfbLineLength = 0x24;
inline constexpr std::size_t kRedSize = 0x26;
inline constexpr std::size_t kRedPos = 0x27;
inline constexpr std::size_t kGreenSize = 0x28;
inline constexpr std::size_t kGreenPos = 0x29;
inline constexpr std::size_t kBlueSize = 0x2a;
inline constexpr std::size_t kBluePos = 0x2b;
inline constexpr std::size_t kRsvdSize = 0x2c;
inline constexpr std::size_t kRsvdPos = 0x2d;
inline constexpr std::size_t kPages = 0x32;
inline constexpr std::size_t kCapabilities = 0x36;
inline constexpr std::size_t kExtLfbBase = 0x3a;

inline constexpr std::uint8_t kVideoTypeEfi = 0x70;
inline constexpr std::uint32_t kCapabilitySkipQuirks = 1u << 0;
inline constexpr std::uint32_t kCapability64BitBase = 1u << 1;
}  // namespace screen_info

// A 32-bpp x8r8g8b8 linear framebuffer in guest-physical memory.
struct FramebufferDescription {
  std::uint64_t base = 0;    // guest-physical address of the first visible pixel
  std::uint64_t size = 0;    // bytes the kernel may use from `base` (≥ stride * height)
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint32_t stride = 0;  // bytes per line
};

// Clears boot_params.screen_info and describes `fb` there. Sizes are in bytes
// (the EFI convention; VESA's 64 KiB units apply to VIDEO_TYPE_VLFB only).
// The base is split into lfb_base and ext_lfb_base with the 64-bit-base
// capability, and the quirk table is skipped, as the EFI stub does. Throws
// NestboxError (InvalidConfig) when `boot_params_page` is shorter than
// screen_info or `fb` does not fit its fields (16-bit sides and line length,
// 32-bit size) or is inconsistent.
void fill_screen_info(std::span<std::uint8_t> boot_params_page, const FramebufferDescription& fb);

}  // namespace nestbox::display
