// The DISPI register rules on their own (no bus, no locking).
#include <doctest/doctest.h>

#include "devices/display/dispi.h"

using namespace nestbox::display;
using namespace nestbox::display::dispi;

namespace {

constexpr std::uint64_t k16MiB = 16ull << 20;

// The sequence Linux bochs-drm's mode set writes.
WriteEffect linux_mode_set(DispiRegisters& regs, std::uint16_t width, std::uint16_t height,
                           std::uint16_t flags = kEnabled | kLfbEnabled) {
  regs.write(kIndexEnable, 0);
  regs.write(kIndexBpp, 32);
  regs.write(kIndexXres, width);
  regs.write(kIndexYres, height);
  regs.write(kIndexBank, 0);
  regs.write(kIndexVirtWidth, width);
  regs.write(kIndexVirtHeight, static_cast<std::uint16_t>(k16MiB / (width * 4u)));
  regs.write(kIndexXOffset, 0);
  regs.write(kIndexYOffset, 0);
  return regs.write(kIndexEnable, flags);
}

}  // namespace

TEST_CASE("dispi: power-on values") {
  DispiRegisters regs(k16MiB);
  CHECK(regs.read(kIndexId) == 0xb0c5);
  CHECK(regs.read(kIndexVideoMemory64k) == 256);
  CHECK(regs.read(kIndexEnable) == 0);
  CHECK_FALSE(regs.mode().has_value());
  CHECK(regs.read(0x20) == 0);  // beyond the register file
}

TEST_CASE("dispi: the ID register takes the versions Linux and firmware negotiate") {
  DispiRegisters regs(k16MiB);
  regs.write(kIndexId, 0xb0c0);
  CHECK(regs.read(kIndexId) == 0xb0c0);
  regs.write(kIndexId, 0xb0c4);
  CHECK(regs.read(kIndexId) == 0xb0c4);
  regs.write(kIndexId, 0x1234);  // not an interface version: ignored
  CHECK(regs.read(kIndexId) == 0xb0c4);
  regs.write(kIndexId, 0xb0c6);
  CHECK(regs.read(kIndexId) == 0xb0c4);
  // Linux checks (id & 0xfff0) == 0xb0c0.
  CHECK((regs.read(kIndexId) & 0xfff0) == kId0);
}

TEST_CASE("dispi: a mode set enables a linear mode and clears what it shows") {
  DispiRegisters regs(k16MiB);
  const WriteEffect effect = linux_mode_set(regs, 1024, 768);
  REQUIRE(regs.mode().has_value());
  const DisplayMode expected{1024, 768, 32, 4096, 0, false};
  CHECK(*regs.mode() == expected);
  CHECK(effect.clear_offset == 0);
  CHECK(effect.clear_length == 4096ull * 768);
  CHECK(regs.read(kIndexVirtHeight) == 4096);  // 16 MiB / 4096-byte lines
  CHECK(regs.read(kIndexEnable) == (kEnabled | kLfbEnabled));

  SUBCASE("NOCLEARMEM keeps the picture") {
    DispiRegisters other(k16MiB);
    CHECK(linux_mode_set(other, 800, 600, kEnabled | kLfbEnabled | kNoClearMem).clear_length == 0);
    CHECK(other.mode()->width == 800);
  }
  SUBCASE("disabling keeps the registers") {
    regs.write(kIndexEnable, 0);
    CHECK_FALSE(regs.mode().has_value());
    CHECK(regs.read(kIndexXres) == 1024);
  }
}

TEST_CASE("dispi: invalid values are refused") {
  DispiRegisters regs(k16MiB);
  linux_mode_set(regs, 1024, 768);
  regs.write(kIndexBpp, 8);  // palette modes are not supported
  CHECK(regs.read(kIndexBpp) == 32);
  regs.write(kIndexBpp, 15);
  CHECK(regs.read(kIndexBpp) == 32);
  regs.write(kIndexXres, 0);
  CHECK(regs.read(kIndexXres) == 1024);
  regs.write(kIndexXres, kMaxWidth + 1);
  CHECK(regs.read(kIndexXres) == 1024);
  regs.write(kIndexYres, 8000);  // 1024 x 8000 x 4 is beyond 16 MiB
  CHECK(regs.read(kIndexYres) == 768);
  regs.write(kIndexVirtWidth, 8000);  // 768 lines of 32000 bytes do not fit
  CHECK(regs.mode()->stride == 4096);
  regs.write(kIndexBank, 256);  // VRAM / 64 KiB
  CHECK(regs.read(kIndexBank) == 0);
  regs.write(kIndexBank, 255);
  CHECK(regs.read(kIndexBank) == 255);
  regs.write(kIndexVideoMemory64k, 1);  // read-only
  CHECK(regs.read(kIndexVideoMemory64k) == 256);
  regs.write(0x42, 1);  // unknown index: nothing
  CHECK(regs.mode()->width == 1024);
}

TEST_CASE("dispi: enabling a mode that does not fit in VRAM is refused") {
  DispiRegisters regs(1ull << 20);  // 1 MiB
  CHECK(regs.read(kIndexVideoMemory64k) == 16);
  const WriteEffect effect = linux_mode_set(regs, 1024, 768);
  CHECK(effect.clear_length == 0);
  CHECK_FALSE(regs.mode().has_value());
  CHECK(regs.read(kIndexEnable) == 0);
  // 512 x 512 x 32 bpp is exactly 1 MiB.
  linux_mode_set(regs, 512, 512);
  REQUIRE(regs.mode().has_value());
  CHECK(regs.mode()->span_bytes() == 1ull << 20);
}

TEST_CASE("dispi: 16 and 24 bpp") {
  DispiRegisters regs(k16MiB);
  regs.write(kIndexBpp, 16);
  regs.write(kIndexXres, 640);
  regs.write(kIndexYres, 480);
  regs.write(kIndexEnable, kEnabled | kLfbEnabled);
  CHECK(*regs.mode() == DisplayMode{640, 480, 16, 1280, 0, false});
  regs.write(kIndexEnable, 0);
  regs.write(kIndexBpp, 24);
  regs.write(kIndexEnable, kEnabled | kLfbEnabled);
  CHECK(*regs.mode() == DisplayMode{640, 480, 24, 1920, 0, false});
  // Changing depth while enabled re-lays the mode out.
  regs.write(kIndexBpp, 32);
  CHECK(regs.mode()->stride == 2560);
}

TEST_CASE("dispi: enabling lays the mode out afresh, then panning moves the window") {
  DispiRegisters regs(k16MiB);
  regs.write(kIndexBpp, 32);
  regs.write(kIndexXres, 1024);
  regs.write(kIndexYres, 768);
  regs.write(kIndexVirtWidth, 2048);  // forgotten when the mode turns on
  regs.write(kIndexYOffset, 100);
  regs.write(kIndexEnable, kEnabled | kLfbEnabled | kNoClearMem);
  CHECK(regs.mode()->stride == 4096);
  CHECK(regs.mode()->offset == 0);
  CHECK(regs.read(kIndexVirtWidth) == 1024);
  CHECK(regs.read(kIndexYOffset) == 0);

  regs.write(kIndexVirtWidth, 2048);
  CHECK(regs.mode()->stride == 8192);
  CHECK(regs.read(kIndexVirtHeight) == 2048);
  regs.write(kIndexVirtWidth, 512);  // narrower than the mode: the mode's width wins
  CHECK(regs.mode()->stride == 4096);

  regs.write(kIndexYOffset, 768);  // a second buffer below the first
  CHECK(regs.mode()->offset == 768ull * 4096);
  regs.write(kIndexXOffset, 10);
  CHECK(regs.mode()->offset == 768ull * 4096 + 40);
  // Far past the end: pulled back so the last visible byte is the last of VRAM.
  regs.write(kIndexXOffset, 0);
  regs.write(kIndexYOffset, 4000);
  CHECK(regs.read(kIndexYOffset) == 4000);  // stored as written
  CHECK(regs.mode()->offset == k16MiB - 768ull * 4096);
  CHECK(regs.mode()->offset + regs.mode()->span_bytes() == k16MiB);
}

TEST_CASE("dispi: GETCAPS reports the limits") {
  DispiRegisters regs(k16MiB);
  regs.write(kIndexXres, 800);
  regs.write(kIndexEnable, kGetCaps);
  CHECK(regs.read(kIndexXres) == kMaxWidth);
  CHECK(regs.read(kIndexYres) == kMaxHeight);
  CHECK(regs.read(kIndexBpp) == 32);
  CHECK_FALSE(regs.mode().has_value());
  regs.write(kIndexEnable, 0);
  CHECK(regs.read(kIndexXres) == 800);
}

TEST_CASE("dispi: byte order and restore") {
  DispiRegisters regs(k16MiB);
  linux_mode_set(regs, 1024, 768);
  regs.set_big_endian(true);
  CHECK(regs.mode()->big_endian);
  const Registers saved = regs.registers();

  DispiRegisters copy(k16MiB);
  copy.restore(saved, true);
  CHECK(copy.mode() == regs.mode());

  DispiRegisters small(1ull << 20);  // the saved mode cannot fit: restored disabled
  small.restore(saved, false);
  CHECK_FALSE(small.mode().has_value());
  CHECK(small.read(kIndexVideoMemory64k) == 16);
  CHECK((small.read(kIndexEnable) & kEnabled) == 0);
}
