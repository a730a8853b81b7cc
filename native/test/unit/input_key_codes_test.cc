// The shared key table, checked whole: every entry against the rules a PS/2
// keyboard and the 8042's translator impose, so a typo in one row fails here
// rather than as a wrong character in some guest.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "devices/i8042/scancode_translation.h"
#include "devices/input/key_codes.h"

using namespace nestbox::input;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes bytes_of(const Scancode& code) { return code.to_vector(); }

Bytes make_bytes(std::string_view name, ScancodeSet set) {
  const std::optional<KeyCode> key = find_key_code(name);
  REQUIRE(key.has_value());
  return bytes_of(make_code(*key, set));
}

Bytes break_bytes(std::string_view name, ScancodeSet set) {
  const std::optional<KeyCode> key = find_key_code(name);
  REQUIRE(key.has_value());
  const std::optional<Scancode> code = break_code(*key, set);
  REQUIRE(code.has_value());
  return bytes_of(*code);
}

// A make code a keyboard can send in `set`: strokes of an optional 0xE0 and a
// code byte that is neither a prefix nor (set 1) a break code.
bool valid_strokes(const Scancode& make, ScancodeSet set) {
  if (make.empty()) return false;
  for (std::size_t i = 0; i < make.size(); ++i) {
    std::uint8_t code = make[i];
    if (code == 0xe0) {
      if (i + 1 >= make.size()) return false;  // a prefix with nothing after it
      code = make[++i];
    }
    if (code == 0x00 || code == 0xe0 || code == 0xe1 || code == 0xf0) return false;
    if (set == ScancodeSet::Set1 && code >= 0x80) return false;
    // Set 2 codes stop at 0x84 (F7 is 0x83); bytes above are replies.
    if (set == ScancodeSet::Set2 && code > 0x84) return false;
  }
  return true;
}

// The W3C "KeyboardEvent code values" of a 105-key ISO keyboard.
const std::vector<std::string_view> kIso105{
    "Escape", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12",
    "PrintScreen", "ScrollLock", "Pause",
    "Backquote", "Digit1", "Digit2", "Digit3", "Digit4", "Digit5", "Digit6", "Digit7", "Digit8",
    "Digit9", "Digit0", "Minus", "Equal", "Backspace",
    "Tab", "KeyQ", "KeyW", "KeyE", "KeyR", "KeyT", "KeyY", "KeyU", "KeyI", "KeyO", "KeyP",
    "BracketLeft", "BracketRight", "Enter",
    "CapsLock", "KeyA", "KeyS", "KeyD", "KeyF", "KeyG", "KeyH", "KeyJ", "KeyK", "KeyL",
    "Semicolon", "Quote", "Backslash",
    "ShiftLeft", "IntlBackslash", "KeyZ", "KeyX", "KeyC", "KeyV", "KeyB", "KeyN", "KeyM", "Comma",
    "Period", "Slash", "ShiftRight",
    "ControlLeft", "MetaLeft", "AltLeft", "Space", "AltRight", "MetaRight", "ContextMenu",
    "ControlRight",
    "Insert", "Home", "PageUp", "Delete", "End", "PageDown",
    "ArrowUp", "ArrowLeft", "ArrowDown", "ArrowRight",
    "NumLock", "NumpadDivide", "NumpadMultiply", "NumpadSubtract", "Numpad7", "Numpad8",
    "Numpad9", "NumpadAdd", "Numpad4", "Numpad5", "Numpad6", "Numpad1", "Numpad2", "Numpad3",
    "NumpadEnter", "Numpad0", "NumpadDecimal",
};

const std::vector<std::string_view> kExtras{
    "IntlRo", "IntlYen", "Lang1", "Lang2", "Lang3", "Lang4", "Convert", "NonConvert", "KanaMode",
    "NumpadEqual", "NumpadComma",
    "F13", "F14", "F15", "F16", "F17", "F18", "F19", "F20", "F21", "F22", "F23", "F24",
    "AudioVolumeUp", "AudioVolumeDown", "AudioVolumeMute",
    "MediaPlayPause", "MediaStop", "MediaTrackNext", "MediaTrackPrevious",
    "LaunchMail", "LaunchApp1", "LaunchApp2",
    "BrowserBack", "BrowserForward", "BrowserRefresh", "BrowserStop", "BrowserSearch",
    "BrowserFavorites", "BrowserHome",
    "Power", "Sleep", "WakeUp",
};

}  // namespace

TEST_CASE("key table: a full ISO keyboard and the common extras are all there") {
  CHECK(kIso105.size() == 105);
  for (std::string_view name : kIso105) {
    INFO(std::string(name));
    CHECK(find_key_code(name).has_value());
  }
  for (std::string_view name : kExtras) {
    INFO(std::string(name));
    CHECK(find_key_code(name).has_value());
  }
  CHECK(key_codes().size() == kIso105.size() + kExtras.size());
}

TEST_CASE("key table: every entry is unique and a valid PS/2 key") {
  std::set<std::string_view> names;
  std::set<std::uint16_t> evdev_codes;
  std::set<Bytes> set1_makes;
  std::set<Bytes> set2_makes;
  std::uint16_t previous_evdev = 0;
  for (const KeyCode& key : key_codes()) {
    INFO(std::string(key.code));
    CHECK(!key.code.empty());
    CHECK(names.insert(key.code).second);
    CHECK(evdev_codes.insert(key.evdev).second);
    CHECK(key.evdev > 0);
    CHECK(key.evdev <= evdev::kKeyMax);
    CHECK(key.evdev < evdev::kBtnLeft - 0x10);  // keys, not buttons (BTN_MISC is 0x100)
    CHECK(key.evdev > previous_evdev);          // the table is in evdev order
    previous_evdev = key.evdev;
    CHECK(set1_makes.insert(bytes_of(key.set1)).second);
    CHECK(set2_makes.insert(bytes_of(key.set2)).second);

    if (key.code == "Pause") {
      CHECK(key.make_only);
      continue;  // checked byte by byte below
    }
    if (key.make_only) {
      // Hangul and Hanja: one byte from the range only they use.
      CHECK(key.set1.size() == 1);
      CHECK(key.set1 == key.set2);
      CHECK((key.set1[0] == 0xf1 || key.set1[0] == 0xf2));
      CHECK_FALSE(break_code(key, ScancodeSet::Set1).has_value());
      CHECK_FALSE(break_code(key, ScancodeSet::Set2).has_value());
      continue;
    }
    CHECK(valid_strokes(key.set1, ScancodeSet::Set1));
    CHECK(valid_strokes(key.set2, ScancodeSet::Set2));
  }
  CHECK(names.size() == key_codes().size());
}

TEST_CASE("key table: set 1 is set 2 through the 8042's translator, make and break") {
  for (const KeyCode& key : key_codes()) {
    INFO(std::string(key.code));
    CHECK(nestbox::i8042::translate_bytes(key.set2.bytes()) == bytes_of(key.set1));
    const std::optional<Scancode> break1 = break_code(key, ScancodeSet::Set1);
    const std::optional<Scancode> break2 = break_code(key, ScancodeSet::Set2);
    REQUIRE(break1.has_value() == break2.has_value());
    if (break1) {
      CHECK(nestbox::i8042::translate_bytes(break2->bytes()) == bytes_of(*break1));
    }
  }
}

TEST_CASE("key table: break codes are derived per stroke") {
  for (const KeyCode& key : key_codes()) {
    if (key.make_only) continue;
    INFO(std::string(key.code));
    const Bytes make1 = bytes_of(key.set1);
    const Bytes break1 = bytes_of(*break_code(key, ScancodeSet::Set1));
    const Bytes break2 = bytes_of(*break_code(key, ScancodeSet::Set2));
    if (make1.size() <= 2) {  // one stroke: [E0] code
      Bytes expected1 = make1;
      expected1.back() |= 0x80;
      CHECK(break1 == expected1);
      Bytes expected2 = bytes_of(key.set2);
      expected2.insert(expected2.end() - 1, 0xf0);
      CHECK(break2 == expected2);
    }
  }
  CHECK(make_bytes("KeyA", ScancodeSet::Set1) == Bytes{0x1e});
  CHECK(break_bytes("KeyA", ScancodeSet::Set1) == Bytes{0x9e});
  CHECK(make_bytes("KeyA", ScancodeSet::Set2) == Bytes{0x1c});
  CHECK(break_bytes("KeyA", ScancodeSet::Set2) == Bytes{0xf0, 0x1c});
  CHECK(make_bytes("ControlRight", ScancodeSet::Set2) == Bytes{0xe0, 0x14});
  CHECK(break_bytes("ControlRight", ScancodeSet::Set2) == Bytes{0xe0, 0xf0, 0x14});
  CHECK(break_bytes("ArrowLeft", ScancodeSet::Set1) == Bytes{0xe0, 0xcb});
  CHECK(make_bytes("F7", ScancodeSet::Set2) == Bytes{0x83});
  CHECK(break_bytes("F7", ScancodeSet::Set2) == Bytes{0xf0, 0x83});
}

TEST_CASE("key table: PrintScreen and Pause send their special sequences") {
  CHECK(make_bytes("PrintScreen", ScancodeSet::Set1) == Bytes{0xe0, 0x2a, 0xe0, 0x37});
  CHECK(break_bytes("PrintScreen", ScancodeSet::Set1) == Bytes{0xe0, 0xb7, 0xe0, 0xaa});
  CHECK(make_bytes("PrintScreen", ScancodeSet::Set2) == Bytes{0xe0, 0x12, 0xe0, 0x7c});
  CHECK(break_bytes("PrintScreen", ScancodeSet::Set2) == Bytes{0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12});
  CHECK(make_bytes("Pause", ScancodeSet::Set1) == Bytes{0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5});
  CHECK(make_bytes("Pause", ScancodeSet::Set2) ==
        Bytes{0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77});
  const std::optional<KeyCode> pause = find_key_code("Pause");
  REQUIRE(pause.has_value());
  CHECK_FALSE(break_code(*pause, ScancodeSet::Set1).has_value());
  CHECK_FALSE(break_code(*pause, ScancodeSet::Set2).has_value());
}

TEST_CASE("key table: lookups by code string and by evdev code") {
  const std::optional<KeyCode> a = find_key_code("KeyA");
  REQUIRE(a.has_value());
  CHECK(a->evdev == 30);
  CHECK(find_key_code("Escape")->evdev == 1);
  CHECK(find_key_code("IntlBackslash")->evdev == 86);  // KEY_102ND
  CHECK(find_key_code("PrintScreen")->evdev == 99);    // KEY_SYSRQ
  CHECK(find_key_code("ContextMenu")->evdev == 127);   // KEY_COMPOSE
  CHECK(find_key_code("MetaLeft")->evdev == 125);
  CHECK(find_key_code("F24")->evdev == 194);
  CHECK_FALSE(find_key_code("keya").has_value());  // codes are case-sensitive
  CHECK_FALSE(find_key_code("").has_value());
  CHECK_FALSE(find_key_code("Unidentified").has_value());
  CHECK_FALSE(find_key_code("OSLeft").has_value());  // the pre-standard name
  CHECK(find_key_by_evdev(111)->code == "Delete");
  CHECK_FALSE(find_key_by_evdev(0).has_value());
  CHECK_FALSE(find_key_by_evdev(evdev::kBtnLeft).has_value());

  const std::vector<std::string_view> names = key_code_names();
  REQUIRE(names.size() == key_codes().size());
  for (std::size_t i = 0; i < names.size(); ++i) CHECK(names[i] == key_codes()[i].code);
}

TEST_CASE("8042 translation: the table's fixed points and the break prefix") {
  using nestbox::i8042::translate_byte;
  using nestbox::i8042::translate_bytes;
  CHECK(translate_byte(0x00) == 0xff);  // overrun
  CHECK(translate_byte(0x1c) == 0x1e);  // A
  CHECK(translate_byte(0x83) == 0x41);  // F7, and identify's second byte
  CHECK(translate_byte(0x84) == 0x54);  // Alt+SysRq
  for (unsigned byte = 0x80; byte <= 0xff; ++byte) {
    if (byte == 0x83 || byte == 0x84) continue;
    CHECK(translate_byte(static_cast<std::uint8_t>(byte)) == byte);
  }
  // 0x01-0x7f map one to one onto distinct set 1 codes.
  std::set<std::uint8_t> seen;
  for (unsigned byte = 0x01; byte < 0x80; ++byte) {
    const std::uint8_t out = translate_byte(static_cast<std::uint8_t>(byte));
    CHECK(out < 0x80);
    CHECK(seen.insert(out).second);
  }
  const Bytes release{0xf0, 0x1c};
  CHECK(translate_bytes(release) == Bytes{0x9e});
  const Bytes dangling{0x1c, 0xf0};
  CHECK(translate_bytes(dangling) == Bytes{0x1e});
}
