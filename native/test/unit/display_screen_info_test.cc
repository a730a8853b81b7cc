// boot_params.screen_info for an EFI-style framebuffer.
#include <asm/bootparam.h>
#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

#include "devices/display/screen_info.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::display;
namespace si = nestbox::display::screen_info;

// Our offsets against the kernel's UAPI header, field by field.
static_assert(offsetof(boot_params, screen_info) == si::kBootParamsOffset);
static_assert(sizeof(::screen_info) == si::kSize);
static_assert(offsetof(::screen_info, orig_video_isVGA) == si::kOrigVideoIsVga);
static_assert(offsetof(::screen_info, lfb_width) == si::kLfbWidth);
static_assert(offsetof(::screen_info, lfb_height) == si::kLfbHeight);
static_assert(offsetof(::screen_info, lfb_depth) == si::kLfbDepth);
static_assert(offsetof(::screen_info, lfb_base) == si::kLfbBase);
static_assert(offsetof(::screen_info, lfb_size) == si::kLfbSize);
static_assert(offsetof(::screen_info, lfb_linelength) == si::kLfbLineLength);
static_assert(offsetof(::screen_info, red_size) == si::kRedSize);
static_assert(offsetof(::screen_info, red_pos) == si::kRedPos);
static_assert(offsetof(::screen_info, green_size) == si::kGreenSize);
static_assert(offsetof(::screen_info, green_pos) == si::kGreenPos);
static_assert(offsetof(::screen_info, blue_size) == si::kBlueSize);
static_assert(offsetof(::screen_info, blue_pos) == si::kBluePos);
static_assert(offsetof(::screen_info, rsvd_size) == si::kRsvdSize);
static_assert(offsetof(::screen_info, rsvd_pos) == si::kRsvdPos);
static_assert(offsetof(::screen_info, pages) == si::kPages);
static_assert(offsetof(::screen_info, capabilities) == si::kCapabilities);
static_assert(offsetof(::screen_info, ext_lfb_base) == si::kExtLfbBase);
static_assert(si::kVideoTypeEfi == VIDEO_TYPE_EFI);
static_assert(si::kCapability64BitBase == VIDEO_CAPABILITY_64BIT_BASE);
static_assert(si::kCapabilitySkipQuirks == VIDEO_CAPABILITY_SKIP_QUIRKS);

namespace {

std::uint32_t u16_at(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return bytes[offset] | bytes[offset + 1] << 8;
}
std::uint32_t u32_at(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return u16_at(bytes, offset) | u16_at(bytes, offset + 2) << 16;
}

}  // namespace

TEST_CASE("screen_info: an EFI framebuffer at the documented offsets") {
  std::vector<std::uint8_t> page(4096, 0xcc);
  const FramebufferDescription fb{0xc000'0000, 16u << 20, 1280, 800, 5120};
  fill_screen_info(page, fb);

  CHECK(page[0x0f] == 0x70);  // orig_video_isVGA = VIDEO_TYPE_EFI
  CHECK(u16_at(page, 0x12) == 1280);
  CHECK(u16_at(page, 0x14) == 800);
  CHECK(u16_at(page, 0x16) == 32);
  CHECK(u32_at(page, 0x18) == 0xc000'0000u);
  CHECK(u32_at(page, 0x1c) == 16u << 20);  // bytes, not 64 KiB units
  CHECK(u16_at(page, 0x24) == 5120);
  CHECK(page[0x26] == 8);  // red 8 @ 16
  CHECK(page[0x27] == 16);
  CHECK(page[0x28] == 8);  // green 8 @ 8
  CHECK(page[0x29] == 8);
  CHECK(page[0x2a] == 8);  // blue 8 @ 0
  CHECK(page[0x2b] == 0);
  CHECK(page[0x2c] == 8);  // reserved 8 @ 24
  CHECK(page[0x2d] == 24);
  CHECK(u16_at(page, 0x32) == 1);
  CHECK(u32_at(page, 0x36) == 3u);  // skip quirks | 64-bit base
  CHECK(u32_at(page, 0x3a) == 0);
  // The rest of screen_info is cleared; the rest of the page is untouched.
  for (std::size_t offset : {0x00, 0x02, 0x06, 0x0e, 0x10, 0x20, 0x2e, 0x34, 0x3e}) {
    CHECK(page[offset] == 0);
  }
  for (std::size_t offset = 0x40; offset < page.size(); ++offset) REQUIRE(page[offset] == 0xcc);

  // Through the kernel's own struct definition.
  const auto* info = reinterpret_cast<const ::screen_info*>(page.data());
  CHECK(info->lfb_width == 1280);
  CHECK(info->lfb_linelength == 5120);
  CHECK(info->orig_video_isVGA == VIDEO_TYPE_EFI);
}

TEST_CASE("screen_info: a framebuffer above 4 GiB uses ext_lfb_base") {
  std::vector<std::uint8_t> page(4096);
  fill_screen_info(page, FramebufferDescription{0x1'2345'6000, 8u << 20, 1024, 768, 4096});
  CHECK(u32_at(page, 0x18) == 0x2345'6000u);
  CHECK(u32_at(page, 0x3a) == 0x1u);
  CHECK((u32_at(page, 0x36) & VIDEO_CAPABILITY_64BIT_BASE) != 0);
}

TEST_CASE("screen_info: what cannot be described is refused") {
  std::vector<std::uint8_t> page(4096);
  const FramebufferDescription good{0xc000'0000, 16u << 20, 1024, 768, 4096};
  const auto refused = [&](FramebufferDescription fb, std::size_t page_size = 4096) {
    return test::expect_error([&] {
             fill_screen_info(std::span(page).first(page_size), fb);
           }).code == ErrorCode::InvalidConfig;
  };
  CHECK(refused(good, 0x3f));
  FramebufferDescription fb = good;
  fb.width = 0;
  CHECK(refused(fb));
  fb = good;
  fb.stride = 1024 * 4 - 4;  // shorter than a line
  CHECK(refused(fb));
  fb = good;
  fb.size = 4096 * 767;  // smaller than the frame
  CHECK(refused(fb));
  fb = good;
  fb.stride = 0x10000;  // lfb_linelength is 16 bits
  fb.width = 0x4000;
  CHECK(refused(fb));
  fb = good;
  fb.size = 1ull << 32;  // lfb_size is 32 bits
  CHECK(refused(fb));
  fill_screen_info(std::span(page).first(0x40), good);  // exactly screen_info is enough
}
