#include "devices/input/input_router.h"

#include <algorithm>
#include <array>

namespace nestbox::input {

namespace ev = evdev;
using virtio::InputEvent;

std::optional<PointerButton> pointer_button_from_dom(int button) {
  switch (button) {
    case 0: return PointerButton::Left;
    case 1: return PointerButton::Middle;
    case 2: return PointerButton::Right;
    case 3: return PointerButton::Back;
    case 4: return PointerButton::Forward;
    default: return std::nullopt;
  }
}

std::uint16_t evdev_button(PointerButton button) {
  switch (button) {
    case PointerButton::Left: return ev::kBtnLeft;
    case PointerButton::Middle: return ev::kBtnMiddle;
    case PointerButton::Right: return ev::kBtnRight;
    case PointerButton::Back: return ev::kBtnSide;
    case PointerButton::Forward: return ev::kBtnExtra;
  }
  return ev::kBtnLeft;
}

InputRouter::InputRouter(const std::shared_ptr<I8042Controller>& ps2,
                         const std::shared_ptr<virtio::VirtioInput>& keyboard,
                         const std::shared_ptr<virtio::VirtioInput>& tablet) {
  attach(ps2, keyboard, tablet);
}

void InputRouter::attach(const std::shared_ptr<I8042Controller>& ps2,
                         const std::shared_ptr<virtio::VirtioInput>& keyboard,
                         const std::shared_ptr<virtio::VirtioInput>& tablet) {
  const std::lock_guard lock(mutex_);
  ps2_ = ps2;
  keyboard_ = keyboard;
  tablet_ = tablet;
  // The new devices start with nothing pressed; releasing old keys into
  // them would only confuse a guest that never saw the presses.
  held_.clear();
  buttons_.clear();
  if (tablet && display_width_ != 0) tablet->set_display_size(display_width_, display_height_);
}

InputRouter::Devices InputRouter::lock_devices() const {
  return Devices{ps2_.lock(), keyboard_.lock(), tablet_.lock()};
}

KeyRoute InputRouter::current_route(const Devices& devices) {
  if (devices.keyboard && devices.keyboard->active()) return KeyRoute::Virtio;
  if (devices.ps2) return KeyRoute::Ps2;
  return KeyRoute::None;
}

KeyRoute InputRouter::keyboard_route() const {
  const std::lock_guard lock(mutex_);
  return current_route(lock_devices());
}

KeyRoute InputRouter::send_key(const Devices& devices, KeyRoute route, const KeyCode& key,
                               bool pressed) {
  if (route == KeyRoute::Virtio && devices.keyboard) {
    const std::array<InputEvent, 1> event{InputEvent{ev::kEvKey, key.evdev, pressed ? 1 : 0}};
    if (devices.keyboard->inject(event)) return KeyRoute::Virtio;
    // Refused: the driver went away between our check and the send (reset,
    // NEEDS_RESET) or its buffer is full. A press falls back to PS/2 so the
    // keystroke is not lost; a release has nowhere better to go.
    if (!pressed) return KeyRoute::None;
    route = KeyRoute::Ps2;
  }
  if (route == KeyRoute::Ps2 && devices.ps2 && devices.ps2->queue_key(key, pressed)) {
    return KeyRoute::Ps2;
  }
  return KeyRoute::None;
}

bool InputRouter::key(std::string_view code, bool pressed) {
  const std::optional<KeyCode> found = find_key_code(code);
  if (!found) return false;
  const KeyCode& entry = *found;
  const std::lock_guard lock(mutex_);
  const Devices devices = lock_devices();
  const auto held = held_.find(entry.evdev);
  if (pressed) {
    if (held != held_.end()) {
      // Host autorepeat (see the header): typematic on PS/2, nothing for virtio.
      if (held->second == KeyRoute::Ps2) return devices.ps2 && devices.ps2->queue_key(entry, true);
      return true;
    }
    const KeyRoute went = send_key(devices, current_route(devices), entry, true);
    if (went == KeyRoute::None) return false;
    held_.emplace(entry.evdev, went);
    return true;
  }
  if (held == held_.end()) {
    // Never pressed as far as the guest knows (the key was already down when
    // the display got focus, or release_all() ran): nothing to release.
    return true;
  }
  const KeyRoute route = held->second;
  held_.erase(held);
  return send_key(devices, route, entry, false) != KeyRoute::None;
}

bool InputRouter::key_combo(std::span<const std::string_view> codes) {
  std::vector<KeyCode> keys;
  keys.reserve(codes.size());
  for (std::string_view code : codes) {
    const std::optional<KeyCode> found = find_key_code(code);
    if (!found) return false;
    keys.push_back(*found);
  }
  const std::lock_guard lock(mutex_);
  const Devices devices = lock_devices();
  const KeyRoute route = current_route(devices);
  if (route == KeyRoute::None) return false;
  bool all = true;
  std::vector<KeyRoute> went(keys.size(), KeyRoute::None);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    went[i] = send_key(devices, route, keys[i], true);
    all = all && went[i] != KeyRoute::None;
  }
  for (std::size_t i = keys.size(); i-- > 0;) {
    // Released where it was pressed. A key the user was also holding is up
    // in the guest now, so the router forgets it too.
    if (went[i] != KeyRoute::None) {
      all = send_key(devices, went[i], keys[i], false) != KeyRoute::None && all;
    }
    held_.erase(keys[i].evdev);
  }
  return all;
}

void InputRouter::release_all() {
  const std::lock_guard lock(mutex_);
  const Devices devices = lock_devices();
  for (const auto& [evdev_code, route] : held_) {
    if (const std::optional<KeyCode> key = find_key_by_evdev(evdev_code)) {
      send_key(devices, route, *key, false);
    }
  }
  held_.clear();
  for (PointerButton button : buttons_) send_button(devices, button, false);
  buttons_.clear();
}

bool InputRouter::send_button(const Devices& devices, PointerButton button, bool pressed) {
  if (!devices.tablet) return false;
  const std::array<InputEvent, 1> event{InputEvent{ev::kEvKey, evdev_button(button), pressed ? 1 : 0}};
  return devices.tablet->inject(event);
}

bool InputRouter::pointer_move(std::int64_t x, std::int64_t y) {
  const std::lock_guard lock(mutex_);
  const Devices devices = lock_devices();
  return devices.tablet && devices.tablet->move_to(x, y);
}

bool InputRouter::pointer_button(PointerButton button, bool pressed) {
  const std::lock_guard lock(mutex_);
  if (pressed) {
    buttons_.insert(button);
  } else {
    buttons_.erase(button);
  }
  return send_button(lock_devices(), button, pressed);
}

bool InputRouter::wheel(std::int32_t dx, std::int32_t dy) {
  const std::lock_guard lock(mutex_);
  const Devices devices = lock_devices();
  if (!devices.tablet) return false;
  // A detent count this large is a UI bug; clamping also keeps -dy defined.
  constexpr std::int32_t kMaxDetents = 1000;
  dx = std::clamp(dx, -kMaxDetents, kMaxDetents);
  dy = std::clamp(dy, -kMaxDetents, kMaxDetents);
  std::vector<InputEvent> events;
  // evdev's REL_WHEEL is positive away from the user: the DOM's sign flipped.
  if (dy != 0) events.push_back(InputEvent{ev::kEvRel, ev::kRelWheel, -dy});
  if (dx != 0) events.push_back(InputEvent{ev::kEvRel, ev::kRelHWheel, dx});
  if (events.empty()) return true;
  return devices.tablet->inject(events);
}

void InputRouter::set_display_size(std::uint32_t width, std::uint32_t height) {
  const std::lock_guard lock(mutex_);
  display_width_ = width;
  display_height_ = height;
  if (const std::shared_ptr<virtio::VirtioInput> tablet = tablet_.lock()) {
    tablet->set_display_size(width, height);
  }
}

std::vector<std::string_view> InputRouter::held_keys() const {
  const std::lock_guard lock(mutex_);
  std::vector<std::string_view> codes;
  for (const auto& [evdev_code, route] : held_) {
    if (const std::optional<KeyCode> key = find_key_by_evdev(evdev_code)) codes.push_back(key->code);
  }
  return codes;
}

}  // namespace nestbox::input
