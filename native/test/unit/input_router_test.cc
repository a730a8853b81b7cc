// The input router: UI-level input to the PS/2 keyboard, the virtio keyboard
// and the virtio tablet. The virtio devices run on a minimal stand-in for the
// transport (queues in fake guest memory, a lock, an activation flag), which
// is all VirtioDevice needs.
#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/i8042/i8042_controller.h"
#include "devices/input/input_router.h"
#include "devices/input/key_codes.h"
#include "devices/virtio/input/virtio_input.h"
#include "devices/virtio/queue/virt_queue.h"
#include "devices/virtio/virtio_interrupt.h"
#include "support/fake_guest_memory.h"
#include "support/fake_interrupt_line.h"
#include "support/virtqueue_builder.h"

using namespace nestbox;
using namespace nestbox::input;
using virtio::InputDeviceKind;
using virtio::InputEvent;
using virtio::VirtioInput;
using Bytes = std::vector<std::uint8_t>;
using Events = std::vector<InputEvent>;

namespace virtio_ns = nestbox::virtio;

namespace nestbox::virtio {
inline doctest::String toString(const InputEvent& e) {
  return (std::to_string(e.type) + "/" + std::to_string(e.code) + "/" + std::to_string(e.value)).c_str();
}
}  // namespace nestbox::virtio

namespace {

constexpr std::uint16_t kRing = 32;
constexpr InputEvent kSyn{evdev::kEvSyn, evdev::kSynReport, 0};

class CountingInterrupt : public virtio_ns::VirtioInterrupt {
 public:
  void signal_used_queue(std::uint16_t) override { ++used; }
  void signal_config_change() override {}
  int used = 0;
};

// A virtio-input device activated by hand: what VirtioPciDevice would hand it.
struct DirectInput {
  DirectInput(const GuestMemory& memory, InputDeviceKind kind, std::uint64_t base)
      : memory(memory),
        device(std::make_shared<VirtioInput>(kind)),
        layout(test::QueueLayout::contiguous(base, kRing)),
        status_layout(test::QueueLayout::contiguous(base + 0x1000, 8)),
        ring(memory, layout),
        buffers(base + 0x4000) {
    queues.emplace_back(VirtioInput::kQueueSize);
    queues.emplace_back(VirtioInput::kQueueSize);
  }

  void activate() {
    const std::array<test::QueueLayout, 2> layouts{layout, status_layout};
    for (std::size_t i = 0; i < 2; ++i) {
      queues[i].reset();
      queues[i].set_size(layouts[i].size);
      queues[i].set_descriptor_table(layouts[i].descriptor_table);
      queues[i].set_avail_ring(layouts[i].avail_ring);
      queues[i].set_used_ring(layouts[i].used_ring);
      queues[i].enable(memory);
    }
    alive = true;
    virtio_ns::VirtioDeviceContext context;
    context.memory = &memory;
    context.queues = queues;
    context.interrupt = &interrupt;
    context.run_locked = [this](const std::function<void()>& work) {
      const std::lock_guard guard(lock);
      if (!alive) return false;
      work();
      return true;
    };
    const std::lock_guard guard(lock);
    device->activate(context);
    post(kRing);
  }
  void deactivate() {
    const std::lock_guard guard(lock);
    alive = false;
    device->reset();
  }
  void post(std::uint16_t count) {
    const std::lock_guard guard(lock);
    for (std::uint16_t i = 0; i < count; ++i) {
      const auto desc = static_cast<std::uint16_t>(posted % kRing);
      ring.write_chain(desc, {{buffers + 8ull * desc, 8, true}});
      ring.make_available(desc);
      ++posted;
    }
    device->process_queue(VirtioInput::kEventQueue);
  }
  Events collect() {
    Events out;
    for (; collected != ring.used_idx(); ++collected) {
      const std::uint64_t at = buffers + 8ull * ring.used_element(collected).id;
      out.push_back(InputEvent{memory.read_object<std::uint16_t>(at),
                               memory.read_object<std::uint16_t>(at + 2),
                               memory.read_object<std::int32_t>(at + 4)});
    }
    // Keep the driver's side stocked, as Linux re-posts each buffer.
    if (!out.empty()) post(static_cast<std::uint16_t>(out.size()));
    return out;
  }

  const GuestMemory& memory;
  std::shared_ptr<VirtioInput> device;
  test::QueueLayout layout;
  test::QueueLayout status_layout;
  test::VirtqueueBuilder ring;
  std::uint64_t buffers;
  std::vector<virtio_ns::VirtQueue> queues;
  CountingInterrupt interrupt;
  std::recursive_mutex lock;
  bool alive = false;
  std::uint16_t posted = 0;
  std::uint16_t collected = 0;
};

struct RouterFixture {
  GuestMemory memory = test::make_guest_memory();
  std::shared_ptr<test::FakeInterruptLine> irq1 = std::make_shared<test::FakeInterruptLine>();
  std::shared_ptr<I8042Controller> ps2 = std::make_shared<I8042Controller>(irq1);
  DirectInput keyboard{memory, InputDeviceKind::Keyboard, 0x10000};
  DirectInput tablet{memory, InputDeviceKind::Tablet, 0x20000};
  InputRouter router{ps2, keyboard.device, tablet.device};

  // What port 0x60 gives the guest (translation on, as Linux sets it).
  Bytes ps2_bytes() {
    Bytes bytes;
    std::array<std::uint8_t, 1> status{};
    std::array<std::uint8_t, 1> data{};
    for (;;) {
      ps2->read(i8042::kCommandPort, status);
      if ((status[0] & i8042::kStatusOutputFull) == 0) break;
      ps2->read(i8042::kDataPort, data);
      bytes.push_back(data[0]);
    }
    return bytes;
  }
};

Events key_events(std::initializer_list<std::pair<std::uint16_t, int>> keys) {
  Events out;
  for (const auto& [code, value] : keys) {
    out.push_back(InputEvent{evdev::kEvKey, code, value});
    out.push_back(kSyn);
  }
  return out;
}

}  // namespace

TEST_CASE_FIXTURE(RouterFixture, "input router: keys go to PS/2 until the virtio keyboard's driver is up") {
  CHECK(router.keyboard_route() == KeyRoute::Ps2);
  CHECK(router.key("KeyA", true));
  CHECK(router.key("KeyA", false));
  CHECK(ps2_bytes() == Bytes{0x1e, 0x9e});

  keyboard.activate();
  CHECK(router.keyboard_route() == KeyRoute::Virtio);
  CHECK(router.key("KeyA", true));
  CHECK(router.key("KeyA", false));
  CHECK(keyboard.collect() == key_events({{30, 1}, {30, 0}}));
  CHECK(ps2_bytes().empty());  // never both: no doubled keys

  keyboard.deactivate();  // the guest reset the device (reboot)
  CHECK(router.keyboard_route() == KeyRoute::Ps2);
  CHECK(router.key("Enter", true));
  CHECK(ps2_bytes() == Bytes{0x1c});
}

TEST_CASE_FIXTURE(RouterFixture, "input router: a key is released where it was pressed") {
  CHECK(router.key("ShiftLeft", true));  // PS/2
  keyboard.activate();
  CHECK(router.key("KeyB", true));       // virtio
  CHECK(router.held_keys() == std::vector<std::string_view>{"ShiftLeft", "KeyB"});
  CHECK(router.key("ShiftLeft", false));
  CHECK(router.key("KeyB", false));
  CHECK(ps2_bytes() == Bytes{0x2a, 0xaa});
  CHECK(keyboard.collect() == key_events({{48, 1}, {48, 0}}));
  CHECK(router.held_keys().empty());
  CHECK(router.key("KeyB", false));  // a release we never pressed: nothing to do
  CHECK(keyboard.collect().empty());
}

TEST_CASE_FIXTURE(RouterFixture, "input router: host autorepeat is typematic on PS/2, dropped for virtio") {
  CHECK(router.key("KeyA", true));
  CHECK(router.key("KeyA", true));
  CHECK(router.key("KeyA", true));
  CHECK(router.key("KeyA", false));
  CHECK(ps2_bytes() == Bytes{0x1e, 0x1e, 0x1e, 0x9e});

  keyboard.activate();
  CHECK(router.key("KeyA", true));
  CHECK(router.key("KeyA", true));  // the guest repeats on its own (EV_REP)
  CHECK(router.key("KeyA", false));
  CHECK(keyboard.collect() == key_events({{30, 1}, {30, 0}}));
}

TEST_CASE_FIXTURE(RouterFixture, "input router: key_combo presses in order and releases in reverse") {
  CHECK(router.key_combo({"ControlLeft", "AltLeft", "Delete"}));
  CHECK(ps2_bytes() == Bytes{0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d});

  keyboard.activate();
  CHECK(router.key_combo({"ControlLeft", "AltLeft", "Delete"}));
  CHECK(keyboard.collect() == key_events({{29, 1}, {56, 1}, {111, 1}, {111, 0}, {56, 0}, {29, 0}}));

  // All or nothing: one unknown code sends no key at all.
  CHECK_FALSE(router.key_combo({"ControlLeft", "NoSuchKey"}));
  CHECK(keyboard.collect().empty());
  CHECK(router.held_keys().empty());

  // A key the user holds is up after the combo, and the router knows it.
  CHECK(router.key("ControlLeft", true));
  CHECK(router.key_combo({"ControlLeft", "KeyC"}));
  CHECK(router.held_keys().empty());
  CHECK(keyboard.collect() == key_events({{29, 1}, {29, 1}, {46, 1}, {46, 0}, {29, 0}}));
}

TEST_CASE_FIXTURE(RouterFixture, "input router: unknown codes and missing devices") {
  CHECK_FALSE(router.key("NoSuchKey", true));
  CHECK_FALSE(router.key("keya", true));
  CHECK(ps2_bytes().empty());

  InputRouter empty(nullptr, nullptr, nullptr);
  CHECK(empty.keyboard_route() == KeyRoute::None);
  CHECK_FALSE(empty.key("KeyA", true));
  CHECK_FALSE(empty.key_combo({"KeyA"}));
  CHECK_FALSE(empty.pointer_move(1, 1));
  CHECK_FALSE(empty.pointer_button(PointerButton::Left, true));
  CHECK_FALSE(empty.wheel(0, 1));
  empty.set_display_size(10, 10);
  empty.release_all();
}

TEST_CASE_FIXTURE(RouterFixture, "input router: release_all lets go of everything held") {
  CHECK(router.key("ShiftLeft", true));
  keyboard.activate();
  tablet.activate();
  CHECK(router.key("KeyQ", true));
  CHECK(router.pointer_button(PointerButton::Right, true));
  router.release_all();
  CHECK(ps2_bytes() == Bytes{0x2a, 0xaa});
  CHECK(keyboard.collect() == key_events({{16, 1}, {16, 0}}));
  CHECK(tablet.collect() == key_events({{evdev::kBtnRight, 1}, {evdev::kBtnRight, 0}}));
  CHECK(router.held_keys().empty());
}

TEST_CASE_FIXTURE(RouterFixture, "input router: pointer positions scale from framebuffer pixels") {
  CHECK_FALSE(router.pointer_move(10, 10));  // no tablet driver yet: dropped
  tablet.activate();
  router.set_display_size(1920, 1080);
  CHECK(router.pointer_move(0, 0));
  CHECK(router.pointer_move(1919, 1079));
  CHECK(router.pointer_move(960, 540));
  CHECK(router.pointer_move(-50, 99999));
  const auto abs = [](std::int32_t x, std::int32_t y) {
    return Events{{evdev::kEvAbs, evdev::kAbsX, x}, {evdev::kEvAbs, evdev::kAbsY, y}, kSyn};
  };
  Events expected;
  for (const Events& e : {abs(0, 0), abs(32767, 32767),
                          abs(virtio_ns::scale_to_abs(960, 1920, 32767),
                              virtio_ns::scale_to_abs(540, 1080, 32767)),
                          abs(0, 32767)}) {
    expected.insert(expected.end(), e.begin(), e.end());
  }
  CHECK(tablet.collect() == expected);
  CHECK(virtio_ns::scale_to_abs(960, 1920, 32767) == 16392);  // (960 * 32767 + 959) / 1919

  router.set_display_size(640, 480);  // the guest changed mode
  CHECK(router.pointer_move(639, 240));
  CHECK(tablet.collect() == abs(32767, virtio_ns::scale_to_abs(240, 480, 32767)));
}

TEST_CASE_FIXTURE(RouterFixture, "input router: buttons and wheel") {
  tablet.activate();
  CHECK(pointer_button_from_dom(0) == PointerButton::Left);
  CHECK(pointer_button_from_dom(1) == PointerButton::Middle);
  CHECK(pointer_button_from_dom(2) == PointerButton::Right);
  CHECK(pointer_button_from_dom(3) == PointerButton::Back);
  CHECK(pointer_button_from_dom(4) == PointerButton::Forward);
  CHECK_FALSE(pointer_button_from_dom(5).has_value());
  CHECK_FALSE(pointer_button_from_dom(-1).has_value());

  CHECK(router.pointer_button(PointerButton::Left, true));
  CHECK(router.pointer_button(PointerButton::Left, false));
  CHECK(router.pointer_button(PointerButton::Back, true));
  CHECK(router.pointer_button(PointerButton::Forward, true));
  CHECK(router.pointer_button(PointerButton::Middle, true));
  CHECK(tablet.collect() == key_events({{evdev::kBtnLeft, 1},
                                        {evdev::kBtnLeft, 0},
                                        {evdev::kBtnSide, 1},
                                        {evdev::kBtnExtra, 1},
                                        {evdev::kBtnMiddle, 1}}));

  CHECK(router.wheel(0, 1));   // DOM: down, towards the user
  CHECK(router.wheel(-2, 0));  // left
  CHECK(router.wheel(3, -1));  // both in one frame
  CHECK(router.wheel(0, 0));   // nothing to say
  CHECK(router.wheel(0, INT32_MIN));  // absurd: clamped, no overflow
  CHECK(tablet.collect() == Events{{evdev::kEvRel, evdev::kRelWheel, -1}, kSyn,
                                   {evdev::kEvRel, evdev::kRelHWheel, -2}, kSyn,
                                   {evdev::kEvRel, evdev::kRelWheel, 1},
                                   {evdev::kEvRel, evdev::kRelHWheel, 3}, kSyn,
                                   {evdev::kEvRel, evdev::kRelWheel, 1000}, kSyn});
  CHECK(keyboard.collect().empty());  // pointer input never reaches the keyboard
}

TEST_CASE_FIXTURE(RouterFixture, "input router: attach a new board's devices, survive the old ones") {
  router.set_display_size(800, 600);
  CHECK(router.key("KeyA", true));  // held on the first board's PS/2
  CHECK(ps2_bytes() == Bytes{0x1e});

  // A reboot: new devices, and the old ones go away.
  auto ps2_after = std::make_shared<I8042Controller>(irq1);
  DirectInput tablet_after{memory, InputDeviceKind::Tablet, 0x30000};
  router.attach(ps2_after, nullptr, tablet_after.device);
  CHECK(router.held_keys().empty());  // the new keyboard never saw the press
  CHECK(router.key("KeyA", false));   // nothing to release there
  CHECK(tablet_after.device->save().display_width == 800);  // the mode carried over

  tablet_after.activate();
  CHECK(router.pointer_move(799, 599));
  CHECK(tablet_after.collect() ==
        Events{{evdev::kEvAbs, evdev::kAbsX, 32767}, {evdev::kEvAbs, evdev::kAbsY, 32767}, kSyn});

  // The router holds no device alive: once the board drops them, input is refused.
  ps2_after.reset();
  tablet_after.device.reset();
  CHECK(router.keyboard_route() == KeyRoute::None);
  CHECK_FALSE(router.key("KeyA", true));
  CHECK_FALSE(router.pointer_move(1, 1));
  router.detach();
  CHECK_FALSE(router.wheel(0, 1));
}
