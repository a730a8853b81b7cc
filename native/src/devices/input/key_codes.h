// The one key table every input path shares. The UI sends W3C UI Events
// `KeyboardEvent.code` strings ("KeyA", "ControlRight", "IntlBackslash": the
// physical key, whatever the host layout); each entry gives what the guest's
// devices must report for that key:
//   * the Linux evdev code (KEY_*), which virtio-input carries as is;
//   * the PS/2 scancode set 1 and set 2 make codes, which the i8042 keyboard
//     sends (set 2 by default, set 1 through the controller's translator or
//     when the guest switches sets).
// Break codes are derived, as the keyboard's own firmware derives them: a
// make code is a list of strokes (an optional 0xE0 prefix and one code byte);
// the break code releases the strokes in reverse order, each as set 1
// `code | 0x80` or set 2 `0xF0 code`. That gives PrintScreen its two-part
// release too. Pause, Lang1 and Lang2 have no break code at all.
//
// Coverage: a full 105-key ISO keyboard (plus the ANSI/JIS/ABNT extras
// IntlRo, IntlYen, NumpadComma, NumpadEqual, Convert, NonConvert, KanaMode,
// Lang1-Lang4), F13-F24, and the common media, browser and power keys. Keys
// with no standard PS/2 code (Help, Undo, Copy, ...) are left out so that
// every entry works on both devices.
//
// The TypeScript side (renderer) should validate what it sends against
// key_code_names(), which the binding exposes; this table stays the single
// source of truth.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace nestbox::input {

// A short scancode byte sequence (the longest, Pause in set 2, is 8 bytes).
class Scancode {
 public:
  static constexpr std::size_t kMaxBytes = 8;

  constexpr Scancode() = default;
  constexpr Scancode(std::initializer_list<std::uint8_t> bytes) {
    for (std::uint8_t byte : bytes) {
      if (size_ < kMaxBytes) bytes_[size_++] = byte;
    }
  }

  [[nodiscard]] constexpr std::size_t size() const { return size_; }
  [[nodiscard]] constexpr bool empty() const { return size_ == 0; }
  [[nodiscard]] constexpr std::uint8_t operator[](std::size_t index) const { return bytes_[index]; }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {bytes_.data(), size_}; }
  [[nodiscard]] std::vector<std::uint8_t> to_vector() const { return {bytes_.begin(), bytes_.begin() + size_}; }
  constexpr void push_back(std::uint8_t byte) {
    if (size_ < kMaxBytes) bytes_[size_++] = byte;
  }

  friend constexpr bool operator==(const Scancode& a, const Scancode& b) {
    if (a.size_ != b.size_) return false;
    for (std::size_t i = 0; i < a.size_; ++i) {
      if (a.bytes_[i] != b.bytes_[i]) return false;
    }
    return true;
  }

 private:
  std::array<std::uint8_t, kMaxBytes> bytes_{};
  std::size_t size_ = 0;
};

enum class ScancodeSet : std::uint8_t { Set1 = 1, Set2 = 2 };

struct KeyCode {
  std::string_view code;    // DOM KeyboardEvent.code
  std::uint16_t evdev = 0;  // Linux KEY_* (input-event-codes.h)
  Scancode set1;            // make code, scancode set 1
  Scancode set2;            // make code, scancode set 2
  bool make_only = false;   // the key sends no break code (Pause, Lang1, Lang2)
};

// Every key, in evdev order.
[[nodiscard]] std::span<const KeyCode> key_codes();
// The entry for a KeyboardEvent.code string; nullopt for codes we do not know
// (the UI drops those rather than guessing).
[[nodiscard]] std::optional<KeyCode> find_key_code(std::string_view code);
// The entry with this evdev code; nullopt if none.
[[nodiscard]] std::optional<KeyCode> find_key_by_evdev(std::uint16_t evdev);
// All known KeyboardEvent.code strings, in table order (for the binding to
// export to JavaScript).
[[nodiscard]] std::vector<std::string_view> key_code_names();

// What the keyboard sends in `set` when the key goes down.
[[nodiscard]] Scancode make_code(const KeyCode& key, ScancodeSet set);
// ... and when it comes up; nullopt for a make-only key.
[[nodiscard]] std::optional<Scancode> break_code(const KeyCode& key, ScancodeSet set);

// Linux input-event-codes.h values the input devices use beyond the key table.
namespace evdev {
inline constexpr std::uint16_t kEvSyn = 0x00;
inline constexpr std::uint16_t kEvKey = 0x01;
inline constexpr std::uint16_t kEvRel = 0x02;
inline constexpr std::uint16_t kEvAbs = 0x03;
inline constexpr std::uint16_t kEvMsc = 0x04;
inline constexpr std::uint16_t kEvLed = 0x11;
inline constexpr std::uint16_t kEvRep = 0x14;

inline constexpr std::uint16_t kSynReport = 0;

inline constexpr std::uint16_t kBtnLeft = 0x110;
inline constexpr std::uint16_t kBtnRight = 0x111;
inline constexpr std::uint16_t kBtnMiddle = 0x112;
inline constexpr std::uint16_t kBtnSide = 0x113;
inline constexpr std::uint16_t kBtnExtra = 0x114;

inline constexpr std::uint16_t kRelHWheel = 0x06;
inline constexpr std::uint16_t kRelWheel = 0x08;

inline constexpr std::uint16_t kAbsX = 0x00;
inline constexpr std::uint16_t kAbsY = 0x01;

inline constexpr std::uint16_t kLedNumLock = 0x00;
inline constexpr std::uint16_t kLedCapsLock = 0x01;
inline constexpr std::uint16_t kLedScrollLock = 0x02;

inline constexpr std::uint16_t kRepDelay = 0x00;
inline constexpr std::uint16_t kRepPeriod = 0x01;

inline constexpr std::uint16_t kInputPropPointer = 0x00;
inline constexpr std::uint16_t kInputPropDirect = 0x01;

inline constexpr std::uint16_t kBusVirtual = 0x06;

inline constexpr std::uint16_t kKeyMax = 0x2ff;
}  // namespace evdev

}  // namespace nestbox::input
