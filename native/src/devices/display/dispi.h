// The Bochs VBE "DISPI" register file (the interface of Bochs' and QEMU's
// standard VGA, which Linux bochs-drm, OVMF's QemuVideoDxe and SeaBIOS'
// VGA BIOS program): eleven 16-bit registers selected by index, reached
// through ports 0x1ce/0x1cf or the display's MMIO BAR at 0x500 + index * 2.
//
// This class is the registers and their rules only (no locking, no bus): the
// display device serialises accesses and turns mode changes into events.
//
// Rules (what a write does):
//   ID          accepts 0xB0C0-0xB0C5 (the guest picks the interface version
//               it speaks); reads the last one accepted (power-on: 0xB0C5).
//   XRES, YRES  1..kMaxWidth / kMaxHeight, else refused.
//   BPP         16, 24 or 32, else refused (no palette modes).
//   ENABLE      bit 0 turns the mode on. Turning it on lays the mode out like
//               Bochs and QEMU do — VIRT_WIDTH = XRES, offsets 0, VIRT_HEIGHT
//               = what fits — and clears the visible area unless NOCLEARMEM;
//               it is refused (nothing changes) when XRES x YRES x BPP does
//               not fit in video memory. GETCAPS makes XRES/YRES/BPP read the
//               maxima.
//   While the mode is on, XRES/YRES/BPP/VIRT_WIDTH writes that would leave
//   the visible lines outside video memory are refused.
//   X_OFFSET,   stored as written; the visible window starts at
//   Y_OFFSET    Y * stride + X * bytes, pulled back so that it ends inside
//               video memory (drivers write the two one after the other, and
//               an intermediate pair may overshoot).
//   BANK        stored (below VRAM / 64 KiB, else refused); there is no
//               banked window at 0xA0000 here, so it changes nothing.
//   VIRT_HEIGHT stored, capped at what fits; informational.
//   VIDEO_MEMORY_64K  read-only: VRAM size in 64 KiB units.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "devices/display/display_mode.h"

namespace nestbox::display::dispi {

inline constexpr std::uint16_t kIndexId = 0x0;
inline constexpr std::uint16_t kIndexXres = 0x1;
inline constexpr std::uint16_t kIndexYres = 0x2;
inline constexpr std::uint16_t kIndexBpp = 0x3;
inline constexpr std::uint16_t kIndexEnable = 0x4;
inline constexpr std::uint16_t kIndexBank = 0x5;
inline constexpr std::uint16_t kIndexVirtWidth = 0x6;
inline constexpr std::uint16_t kIndexVirtHeight = 0x7;
inline constexpr std::uint16_t kIndexXOffset = 0x8;
inline constexpr std::uint16_t kIndexYOffset = 0x9;
inline constexpr std::uint16_t kIndexVideoMemory64k = 0xa;
inline constexpr std::uint16_t kRegisterCount = 0xb;

inline constexpr std::uint16_t kId0 = 0xb0c0;
inline constexpr std::uint16_t kId5 = 0xb0c5;

inline constexpr std::uint16_t kEnabled = 0x01;
inline constexpr std::uint16_t kGetCaps = 0x02;
inline constexpr std::uint16_t k8BitDac = 0x20;
inline constexpr std::uint16_t kLfbEnabled = 0x40;
inline constexpr std::uint16_t kNoClearMem = 0x80;

inline constexpr std::uint16_t kIndexPort = 0x1ce;
inline constexpr std::uint16_t kDataPort = 0x1cf;

// The largest mode we accept (what GETCAPS reports); video memory is the
// tighter limit in practice (16 MiB holds 2560x1600x32).
inline constexpr std::uint16_t kMaxWidth = 8192;
inline constexpr std::uint16_t kMaxHeight = 8192;
inline constexpr std::uint16_t kMaxBpp = 32;

using Registers = std::array<std::uint16_t, kRegisterCount>;

// What a write asks of the video memory.
struct WriteEffect {
  std::uint64_t clear_offset = 0;  // zero [clear_offset, + clear_length)
  std::uint64_t clear_length = 0;
};

class DispiRegisters {
 public:
  explicit DispiRegisters(std::uint64_t vram_size);

  [[nodiscard]] std::uint16_t read(std::uint16_t index) const;
  // Unknown indices are ignored.
  WriteEffect write(std::uint16_t index, std::uint16_t value);

  // The mode the registers describe while enabled; nullopt while disabled.
  [[nodiscard]] const std::optional<DisplayMode>& mode() const { return mode_; }
  [[nodiscard]] bool enabled() const { return (regs_[kIndexEnable] & kEnabled) != 0; }

  // The QEMU extension's framebuffer byte order (BAR2 + 0x604).
  void set_big_endian(bool big_endian);
  [[nodiscard]] bool big_endian() const { return big_endian_; }

  [[nodiscard]] const Registers& registers() const { return regs_; }
  // Loads saved registers. A saved mode that does not fit this video memory
  // (a snapshot is input like any other) comes back disabled.
  void restore(const Registers& registers, bool big_endian);

 private:
  // The mode `regs` lay out, enabled or not; nullopt when it cannot fit.
  [[nodiscard]] std::optional<DisplayMode> layout(const Registers& regs) const;
  [[nodiscard]] std::uint16_t max_virtual_height(const Registers& regs) const;
  void update_mode();

  std::uint64_t vram_size_;
  Registers regs_{};
  bool big_endian_ = false;
  std::optional<DisplayMode> mode_;
};

}  // namespace nestbox::display::dispi
