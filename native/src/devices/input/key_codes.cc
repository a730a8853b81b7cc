#include "devices/input/key_codes.h"

#include <algorithm>

namespace nestbox::input {

namespace {

constexpr std::uint8_t kExtended = 0xe0;     // prefix of the "grey" keys
constexpr std::uint8_t kSet2Release = 0xf0;  // set 2 break prefix
constexpr std::uint8_t kSet1Release = 0x80;  // set 1 break bit

// One row: code string, evdev, set 1 make, set 2 make. Single-byte makes are
// written as one byte, 0xE0-prefixed ones with both bytes, so a row reads
// like the scancode tables in the PS/2 literature.
constexpr KeyCode key(std::string_view code, std::uint16_t evdev, Scancode set1, Scancode set2,
                      bool make_only = false) {
  return KeyCode{code, evdev, set1, set2, make_only};
}

// clang-format off
constexpr std::array kKeys{
    key("Escape",             1, {0x01}, {0x76}),
    key("Digit1",             2, {0x02}, {0x16}),
    key("Digit2",             3, {0x03}, {0x1e}),
    key("Digit3",             4, {0x04}, {0x26}),
    key("Digit4",             5, {0x05}, {0x25}),
    key("Digit5",             6, {0x06}, {0x2e}),
    key("Digit6",             7, {0x07}, {0x36}),
    key("Digit7",             8, {0x08}, {0x3d}),
    key("Digit8",             9, {0x09}, {0x3e}),
    key("Digit9",            10, {0x0a}, {0x46}),
    key("Digit0",            11, {0x0b}, {0x45}),
    key("Minus",             12, {0x0c}, {0x4e}),
    key("Equal",             13, {0x0d}, {0x55}),
    key("Backspace",         14, {0x0e}, {0x66}),
    key("Tab",               15, {0x0f}, {0x0d}),
    key("KeyQ",              16, {0x10}, {0x15}),
    key("KeyW",              17, {0x11}, {0x1d}),
    key("KeyE",              18, {0x12}, {0x24}),
    key("KeyR",              19, {0x13}, {0x2d}),
    key("KeyT",              20, {0x14}, {0x2c}),
    key("KeyY",              21, {0x15}, {0x35}),
    key("KeyU",              22, {0x16}, {0x3c}),
    key("KeyI",              23, {0x17}, {0x43}),
    key("KeyO",              24, {0x18}, {0x44}),
    key("KeyP",              25, {0x19}, {0x4d}),
    key("BracketLeft",       26, {0x1a}, {0x54}),
    key("BracketRight",      27, {0x1b}, {0x5b}),
    key("Enter",             28, {0x1c}, {0x5a}),
    key("ControlLeft",       29, {0x1d}, {0x14}),
    key("KeyA",              30, {0x1e}, {0x1c}),
    key("KeyS",              31, {0x1f}, {0x1b}),
    key("KeyD",              32, {0x20}, {0x23}),
    key("KeyF",              33, {0x21}, {0x2b}),
    key("KeyG",              34, {0x22}, {0x34}),
    key("KeyH",              35, {0x23}, {0x33}),
    key("KeyJ",              36, {0x24}, {0x3b}),
    key("KeyK",              37, {0x25}, {0x42}),
    key("KeyL",              38, {0x26}, {0x4b}),
    key("Semicolon",         39, {0x27}, {0x4c}),
    key("Quote",             40, {0x28}, {0x52}),
    key("Backquote",         41, {0x29}, {0x0e}),
    key("ShiftLeft",         42, {0x2a}, {0x12}),
    key("Backslash",         43, {0x2b}, {0x5d}),  // also the ISO key left of Enter
    key("KeyZ",              44, {0x2c}, {0x1a}),
    key("KeyX",              45, {0x2d}, {0x22}),
    key("KeyC",              46, {0x2e}, {0x21}),
    key("KeyV",              47, {0x2f}, {0x2a}),
    key("KeyB",              48, {0x30}, {0x32}),
    key("KeyN",              49, {0x31}, {0x31}),
    key("KeyM",              50, {0x32}, {0x3a}),
    key("Comma",             51, {0x33}, {0x41}),
    key("Period",            52, {0x34}, {0x49}),
    key("Slash",             53, {0x35}, {0x4a}),
    key("ShiftRight",        54, {0x36}, {0x59}),
    key("NumpadMultiply",    55, {0x37}, {0x7c}),
    key("AltLeft",           56, {0x38}, {0x11}),
    key("Space",             57, {0x39}, {0x29}),
    key("CapsLock",          58, {0x3a}, {0x58}),
    key("F1",                59, {0x3b}, {0x05}),
    key("F2",                60, {0x3c}, {0x06}),
    key("F3",                61, {0x3d}, {0x04}),
    key("F4",                62, {0x3e}, {0x0c}),
    key("F5",                63, {0x3f}, {0x03}),
    key("F6",                64, {0x40}, {0x0b}),
    key("F7",                65, {0x41}, {0x83}),
    key("F8",                66, {0x42}, {0x0a}),
    key("F9",                67, {0x43}, {0x01}),
    key("F10",               68, {0x44}, {0x09}),
    key("NumLock",           69, {0x45}, {0x77}),
    key("ScrollLock",        70, {0x46}, {0x7e}),
    key("Numpad7",           71, {0x47}, {0x6c}),
    key("Numpad8",           72, {0x48}, {0x75}),
    key("Numpad9",           73, {0x49}, {0x7d}),
    key("NumpadSubtract",    74, {0x4a}, {0x7b}),
    key("Numpad4",           75, {0x4b}, {0x6b}),
    key("Numpad5",           76, {0x4c}, {0x73}),
    key("Numpad6",           77, {0x4d}, {0x74}),
    key("NumpadAdd",         78, {0x4e}, {0x79}),
    key("Numpad1",           79, {0x4f}, {0x69}),
    key("Numpad2",           80, {0x50}, {0x72}),
    key("Numpad3",           81, {0x51}, {0x7a}),
    key("Numpad0",           82, {0x52}, {0x70}),
    key("NumpadDecimal",     83, {0x53}, {0x71}),
    key("IntlBackslash",     86, {0x56}, {0x61}),  // KEY_102ND: the ISO key right of left Shift
    key("F11",               87, {0x57}, {0x78}),
    key("F12",               88, {0x58}, {0x07}),
    key("IntlRo",            89, {0x73}, {0x51}),
    key("Lang3",             90, {0x78}, {0x63}),  // KEY_KATAKANA
    key("Lang4",             91, {0x77}, {0x62}),  // KEY_HIRAGANA
    key("Convert",           92, {0x79}, {0x64}),  // KEY_HENKAN
    key("KanaMode",          93, {0x70}, {0x13}),  // KEY_KATAKANAHIRAGANA
    key("NonConvert",        94, {0x7b}, {0x67}),  // KEY_MUHENKAN
    key("NumpadEnter",       96, {kExtended, 0x1c}, {kExtended, 0x5a}),
    key("ControlRight",      97, {kExtended, 0x1d}, {kExtended, 0x14}),
    key("NumpadDivide",      98, {kExtended, 0x35}, {kExtended, 0x4a}),
    // KEY_SYSRQ. The keyboard sends a "fake" left Shift press ahead of the
    // real code (and its release after), as an unmodified PrintScreen does.
    key("PrintScreen",       99, {kExtended, 0x2a, kExtended, 0x37},
                                 {kExtended, 0x12, kExtended, 0x7c}),
    key("AltRight",         100, {kExtended, 0x38}, {kExtended, 0x11}),
    key("Home",             102, {kExtended, 0x47}, {kExtended, 0x6c}),
    key("ArrowUp",          103, {kExtended, 0x48}, {kExtended, 0x75}),
    key("PageUp",           104, {kExtended, 0x49}, {kExtended, 0x7d}),
    key("ArrowLeft",        105, {kExtended, 0x4b}, {kExtended, 0x6b}),
    key("ArrowRight",       106, {kExtended, 0x4d}, {kExtended, 0x74}),
    key("End",              107, {kExtended, 0x4f}, {kExtended, 0x69}),
    key("ArrowDown",        108, {kExtended, 0x50}, {kExtended, 0x72}),
    key("PageDown",         109, {kExtended, 0x51}, {kExtended, 0x7a}),
    key("Insert",           110, {kExtended, 0x52}, {kExtended, 0x70}),
    key("Delete",           111, {kExtended, 0x53}, {kExtended, 0x71}),
    key("AudioVolumeMute",  113, {kExtended, 0x20}, {kExtended, 0x23}),
    key("AudioVolumeDown",  114, {kExtended, 0x2e}, {kExtended, 0x21}),
    key("AudioVolumeUp",    115, {kExtended, 0x30}, {kExtended, 0x32}),
    key("Power",            116, {kExtended, 0x5e}, {kExtended, 0x37}),
    key("NumpadEqual",      117, {0x59}, {0x0f}),
    // Pause is Ctrl+NumLock from the 83-key days, sent whole on the press
    // and nothing on the release.
    key("Pause",            119, {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5},
                                 {0xe1, 0x14, 0x77, 0xe1, kSet2Release, 0x14, kSet2Release, 0x77},
                                 true),
    key("NumpadComma",      121, {0x7e}, {0x6d}),
    // Korean Hangul/Hanja keys: one byte on the press, no release (the
    // driver reports press and release together).
    key("Lang1",            122, {0xf2}, {0xf2}, true),  // KEY_HANGEUL
    key("Lang2",            123, {0xf1}, {0xf1}, true),  // KEY_HANJA
    key("IntlYen",          124, {0x7d}, {0x6a}),
    key("MetaLeft",         125, {kExtended, 0x5b}, {kExtended, 0x1f}),
    key("MetaRight",        126, {kExtended, 0x5c}, {kExtended, 0x27}),
    key("ContextMenu",      127, {kExtended, 0x5d}, {kExtended, 0x2f}),  // KEY_COMPOSE
    key("BrowserStop",      128, {kExtended, 0x68}, {kExtended, 0x28}),
    key("LaunchApp2",       140, {kExtended, 0x21}, {kExtended, 0x2b}),  // KEY_CALC
    key("Sleep",            142, {kExtended, 0x5f}, {kExtended, 0x3f}),
    key("WakeUp",           143, {kExtended, 0x63}, {kExtended, 0x5e}),
    key("LaunchMail",       155, {kExtended, 0x6c}, {kExtended, 0x48}),
    key("BrowserFavorites", 156, {kExtended, 0x66}, {kExtended, 0x18}),  // KEY_BOOKMARKS
    key("LaunchApp1",       157, {kExtended, 0x6b}, {kExtended, 0x40}),  // KEY_COMPUTER
    key("BrowserBack",      158, {kExtended, 0x6a}, {kExtended, 0x38}),
    key("BrowserForward",   159, {kExtended, 0x69}, {kExtended, 0x30}),
    key("MediaTrackNext",   163, {kExtended, 0x19}, {kExtended, 0x4d}),
    key("MediaPlayPause",   164, {kExtended, 0x22}, {kExtended, 0x34}),
    key("MediaTrackPrevious", 165, {kExtended, 0x10}, {kExtended, 0x15}),
    key("MediaStop",        166, {kExtended, 0x24}, {kExtended, 0x3b}),  // KEY_STOPCD
    key("BrowserHome",      172, {kExtended, 0x32}, {kExtended, 0x3a}),  // KEY_HOMEPAGE
    key("BrowserRefresh",   173, {kExtended, 0x67}, {kExtended, 0x20}),
    key("F13",              183, {0x64}, {0x08}),
    key("F14",              184, {0x65}, {0x10}),
    key("F15",              185, {0x66}, {0x18}),
    key("F16",              186, {0x67}, {0x20}),
    key("F17",              187, {0x68}, {0x28}),
    key("F18",              188, {0x69}, {0x30}),
    key("F19",              189, {0x6a}, {0x38}),
    key("F20",              190, {0x6b}, {0x40}),
    key("F21",              191, {0x6c}, {0x48}),
    key("F22",              192, {0x6d}, {0x50}),
    key("F23",              193, {0x6e}, {0x57}),
    key("F24",              194, {0x76}, {0x5f}),
    key("BrowserSearch",    217, {kExtended, 0x65}, {kExtended, 0x10}),
};
// clang-format on

// One keystroke inside a make code: an optional 0xE0 and the code byte.
struct Stroke {
  bool extended;
  std::uint8_t code;
};

// Splits a (non-Pause) make code into strokes; at most Scancode::kMaxBytes.
std::vector<Stroke> strokes_of(const Scancode& make) {
  std::vector<Stroke> strokes;
  for (std::size_t i = 0; i < make.size(); ++i) {
    if (make[i] == kExtended && i + 1 < make.size()) {
      strokes.push_back({true, make[i + 1]});
      ++i;
    } else {
      strokes.push_back({false, make[i]});
    }
  }
  return strokes;
}

}  // namespace

std::span<const KeyCode> key_codes() { return kKeys; }

std::optional<KeyCode> find_key_code(std::string_view code) {
  // A linear scan of ~140 rows per keystroke costs nothing next to the IPC
  // that delivered it, and keeps the table plain constexpr data.
  const auto* found = std::find_if(kKeys.begin(), kKeys.end(),
                                   [&](const KeyCode& key) { return key.code == code; });
  if (found == kKeys.end()) return std::nullopt;
  return *found;
}

std::optional<KeyCode> find_key_by_evdev(std::uint16_t evdev) {
  const auto* found = std::find_if(kKeys.begin(), kKeys.end(),
                                   [&](const KeyCode& key) { return key.evdev == evdev; });
  if (found == kKeys.end()) return std::nullopt;
  return *found;
}

std::vector<std::string_view> key_code_names() {
  std::vector<std::string_view> names;
  names.reserve(kKeys.size());
  for (const KeyCode& key : kKeys) names.push_back(key.code);
  return names;
}

Scancode make_code(const KeyCode& key, ScancodeSet set) {
  return set == ScancodeSet::Set1 ? key.set1 : key.set2;
}

std::optional<Scancode> break_code(const KeyCode& key, ScancodeSet set) {
  if (key.make_only) return std::nullopt;
  const std::vector<Stroke> strokes = strokes_of(make_code(key, set));
  Scancode result;
  // Released in reverse: the last stroke pressed is the first let go.
  for (auto stroke = strokes.rbegin(); stroke != strokes.rend(); ++stroke) {
    if (stroke->extended) result.push_back(kExtended);
    if (set == ScancodeSet::Set1) {
      result.push_back(static_cast<std::uint8_t>(stroke->code | kSet1Release));
    } else {
      result.push_back(kSet2Release);
      result.push_back(stroke->code);
    }
  }
  return result;
}

}  // namespace nestbox::input
