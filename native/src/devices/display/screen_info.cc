#include "devices/display/screen_info.h"

#include <algorithm>

#include "common/nestbox_error.h"

namespace nestbox::display {

namespace {

void put16(std::span<std::uint8_t> bytes, std::size_t offset, std::uint32_t value) {
  bytes[offset] = static_cast<std::uint8_t>(value);
  bytes[offset + 1] = static_cast<std::uint8_t>(value >> 8);
}

void put32(std::span<std::uint8_t> bytes, std::size_t offset, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

}  // namespace

void fill_screen_info(std::span<std::uint8_t> boot_params_page, const FramebufferDescription& fb) {
  namespace si = screen_info;
  if (boot_params_page.size() < si::kBootParamsOffset + si::kSize) {
    throw NestboxError(ErrorCode::InvalidConfig, "boot_params is too short for screen_info");
  }
  if (fb.width == 0 || fb.height == 0 || fb.width > 0xffff || fb.height > 0xffff ||
      fb.stride > 0xffff || fb.stride < std::uint64_t{fb.width} * 4 ||
      fb.size < std::uint64_t{fb.stride} * fb.height || fb.size > 0xffff'ffffull ||
      fb.base + fb.size < fb.base) {
    throw NestboxError(ErrorCode::InvalidConfig,
                       "the boot framebuffer cannot be described in screen_info");
  }
  const std::span<std::uint8_t> info = boot_params_page.subspan(si::kBootParamsOffset, si::kSize);
  std::fill(info.begin(), info.end(), std::uint8_t{0});
  info[si::kOrigVideoIsVga] = si::kVideoTypeEfi;
  put16(info, si::kLfbWidth, fb.width);
  put16(info, si::kLfbHeight, fb.height);
  put16(info, si::kLfbDepth, 32);
  put32(info, si::kLfbBase, static_cast<std::uint32_t>(fb.base));
  put32(info, si::kLfbSize, static_cast<std::uint32_t>(fb.size));
  put16(info, si::kLfbLineLength, fb.stride);
  // x8r8g8b8 as GOP's PixelBlueGreenRedReserved8BitPerColor describes it
  // (the EFI stub reports the reserved byte as 8 bits at 24).
  info[si::kRedSize] = 8;
  info[si::kRedPos] = 16;
  info[si::kGreenSize] = 8;
  info[si::kGreenPos] = 8;
  info[si::kBlueSize] = 8;
  info[si::kBluePos] = 0;
  info[si::kRsvdSize] = 8;
  info[si::kRsvdPos] = 24;
  put16(info, si::kPages, 1);
  put32(info, si::kCapabilities, si::kCapabilitySkipQuirks | si::kCapability64BitBase);
  put32(info, si::kExtLfbBase, static_cast<std::uint32_t>(fb.base >> 32));
}

}  // namespace nestbox::display
