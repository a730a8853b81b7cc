// The host side of keyboard and pointer input: what the UI sends (DOM
// KeyboardEvent.code strings, framebuffer pixel positions, DOM mouse
// buttons, wheel detents) turned into what the guest's input devices report.
//
// Keys go to ONE keyboard at a time, the one the guest is driving:
//   * the virtio-input keyboard while its driver is active (DRIVER_OK, not
//     reset, not NEEDS_RESET);
//   * otherwise the PS/2 keyboard behind the i8042 (firmware, boot loaders,
//     early boot, guests without virtio-input).
// Sending to both would type every key twice in a guest that has both
// drivers (Linux binds atkbd and virtio_input side by side). The choice is
// made per key press and remembered, so a key released after the guest
// switched keyboards is released where it was pressed.
//
// Held keys and host autorepeat: a press of a key already down is the host's
// autorepeat. The PS/2 keyboard gets the make code again (that is what a
// typematic keyboard sends; atkbd relies on it). The virtio keyboard does
// not: it advertises EV_REP, so the guest repeats on its own.
//
// The pointer goes to the virtio tablet only (there is no PS/2 mouse);
// before its driver is up, pointer input is dropped (the calls return false).
//
// Threads: every method may be called from any thread; one mutex makes each
// call (and a whole key_combo) atomic with respect to the others.
//
// Lifetime: the router does not keep devices alive (it holds weak
// references), because devices belong to one boot's board and a reboot
// builds new ones. The machine owns one router for its whole life and
// attach()es each new board's devices; once a board is gone its devices
// simply stop taking input (calls return false). Detach before the guest
// memory the devices point into is destroyed.
//
// Integration:
//   machine: InputRouter input_;  // UI input → input_.key(...), ...
//   each boot: input_.attach(i8042, virtio_keyboard, virtio_tablet);  // any may be null
//   teardown:  input_.detach();
//   display mode change: input_.set_display_size(w, h);
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <vector>

#include "devices/i8042/i8042_controller.h"
#include "devices/input/key_codes.h"
#include "devices/virtio/input/virtio_input.h"

namespace nestbox::input {

enum class PointerButton : std::uint8_t { Left, Middle, Right, Back, Forward };

// DOM MouseEvent.button (0 main, 1 auxiliary, 2 secondary, 3 back, 4
// forward) → our button; nullopt for anything else.
[[nodiscard]] std::optional<PointerButton> pointer_button_from_dom(int button);
// The evdev BTN_* code the tablet reports for `button`.
[[nodiscard]] std::uint16_t evdev_button(PointerButton button);

enum class KeyRoute : std::uint8_t { None, Ps2, Virtio };

class InputRouter {
 public:
  InputRouter() = default;
  // Same as attach() on an empty router.
  InputRouter(const std::shared_ptr<I8042Controller>& ps2,
              const std::shared_ptr<virtio::VirtioInput>& keyboard,
              const std::shared_ptr<virtio::VirtioInput>& tablet);

  // The devices input goes to from now on (any may be null). For the virtio
  // ones pass an aliasing shared_ptr owned by the VirtioPciDevice (see
  // virtio_input.h), so the weak reference expires with the transport.
  // Forgets held keys and buttons (they belonged to the old devices) and
  // gives the new tablet the last display size set.
  void attach(const std::shared_ptr<I8042Controller>& ps2,
              const std::shared_ptr<virtio::VirtioInput>& keyboard,
              const std::shared_ptr<virtio::VirtioInput>& tablet);
  void detach() { attach(nullptr, nullptr, nullptr); }

  // A key went down or up. False: an unknown code, or no keyboard took it.
  bool key(std::string_view code, bool pressed);
  // Presses `codes` in order, then releases them in reverse, as one action
  // nothing else interleaves with (Ctrl+Alt+Del from a menu). All codes must
  // be known, or nothing is sent and the result is false.
  bool key_combo(std::span<const std::string_view> codes);
  bool key_combo(std::initializer_list<std::string_view> codes) {
    return key_combo(std::span<const std::string_view>(codes.begin(), codes.size()));
  }
  // Releases every key and button still down (the UI lost focus; a key
  // whose release the UI will never see must not stay stuck in the guest).
  void release_all();

  // The pointer is at framebuffer pixel (x, y); clamped to the display.
  bool pointer_move(std::int64_t x, std::int64_t y);
  bool pointer_button(PointerButton button, bool pressed);
  // Wheel detents in DOM orientation: dy > 0 scrolls down (towards the user),
  // dx > 0 scrolls right. The UI turns WheelEvent deltas into detents.
  bool wheel(std::int32_t dx, std::int32_t dy);
  // The guest's display mode, for pointer scaling.
  void set_display_size(std::uint32_t width, std::uint32_t height);

  // Where a key pressed now would go.
  [[nodiscard]] KeyRoute keyboard_route() const;
  // KeyboardEvent.code of every key the router holds down, in evdev order.
  [[nodiscard]] std::vector<std::string_view> held_keys() const;

 private:
  // The devices still alive, pinned for the duration of one call.
  struct Devices {
    std::shared_ptr<I8042Controller> ps2;
    std::shared_ptr<virtio::VirtioInput> keyboard;
    std::shared_ptr<virtio::VirtioInput> tablet;
  };
  [[nodiscard]] Devices lock_devices() const;
  static KeyRoute current_route(const Devices& devices);
  // Sends one key to `route`; a virtio keyboard that refuses (its driver
  // just went away) hands a press over to PS/2. Returns where it went.
  static KeyRoute send_key(const Devices& devices, KeyRoute route, const KeyCode& key, bool pressed);
  static bool send_button(const Devices& devices, PointerButton button, bool pressed);

  mutable std::mutex mutex_;
  std::weak_ptr<I8042Controller> ps2_;
  std::weak_ptr<virtio::VirtioInput> keyboard_;
  std::weak_ptr<virtio::VirtioInput> tablet_;
  std::map<std::uint16_t, KeyRoute> held_;  // evdev code → where its press went
  std::set<PointerButton> buttons_;         // buttons down
  std::uint32_t display_width_ = 0;         // 0: never set; the tablet keeps its default
  std::uint32_t display_height_ = 0;
};

}  // namespace nestbox::input
