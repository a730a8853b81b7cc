// The 8042 as Linux's i8042 and atkbd drivers drive it.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "bus/address_bus.h"
#include "devices/bus_window.h"
#include "devices/i8042/i8042_controller.h"
#include "devices/input/key_codes.h"
#include "support/fake_interrupt_line.h"

using nestbox::I8042Controller;
using nestbox::test::FakeInterruptLine;
namespace i8042 = nestbox::i8042;

namespace {

struct KbcFixture {
  std::shared_ptr<FakeInterruptLine> irq = std::make_shared<FakeInterruptLine>();
  int resets = 0;
  std::shared_ptr<I8042Controller> kbc =
      std::make_shared<I8042Controller>(irq, [this] { ++resets; });
  nestbox::AddressBus bus{"port I/O"};

  KbcFixture() {
    bus.attach(0x60, 1, kbc);
    bus.attach(0x64, 1, std::make_shared<nestbox::BusWindow>(kbc, i8042::kCommandPort));
  }
  std::uint8_t in(std::uint16_t port) {
    std::array<std::uint8_t, 1> byte{};
    bus.read(port, byte);
    return byte[0];
  }
  void out(std::uint16_t port, std::uint8_t value) {
    const std::array<std::uint8_t, 1> byte{value};
    bus.write(port, byte);
  }
  bool output_full() { return (in(0x64) & i8042::kStatusOutputFull) != 0; }
  // Drains the output buffer the way i8042 polling does.
  std::vector<std::uint8_t> drain() {
    std::vector<std::uint8_t> bytes;
    while (output_full() && bytes.size() < 64) {
      bytes.push_back(in(0x60));
    }
    return bytes;
  }
  std::vector<std::uint8_t> command(std::uint8_t cmd) {
    out(0x64, cmd);
    return drain();
  }
  std::vector<std::uint8_t> to_keyboard(std::uint8_t byte) {
    out(0x60, byte);
    return drain();
  }
  void set_translation(bool on) {
    out(0x64, i8042::kCmdWriteCommandByte);
    out(0x60, static_cast<std::uint8_t>(i8042::kCtrKeyboardInterrupt | i8042::kCtrSystem |
                                        (on ? i8042::kCtrTranslate : 0)));
  }
  // The bytes the guest reads after one key press or release.
  std::vector<std::uint8_t> key(std::string_view code, bool pressed) {
    const std::optional<nestbox::input::KeyCode> entry = nestbox::input::find_key_code(code);
    REQUIRE(entry.has_value());
    CHECK(kbc->queue_key(*entry, pressed));
    return drain();
  }
};

using Bytes = std::vector<std::uint8_t>;

}  // namespace

TEST_CASE_FIXTURE(KbcFixture, "i8042 status after reset: empty, system flag, not inhibited") {
  const std::uint8_t status = in(0x64);
  CHECK((status & i8042::kStatusOutputFull) == 0);
  CHECK((status & i8042::kStatusInputFull) == 0);
  CHECK((status & i8042::kStatusSystem) != 0);
  CHECK((status & i8042::kStatusNotInhibited) != 0);
  out(0x64, i8042::kCmdReadCommandByte);
  CHECK((in(0x64) & i8042::kStatusLastWasCommand) != 0);
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 controller self-test and interface tests") {
  CHECK(command(i8042::kCmdSelfTest) == Bytes{0x55});
  CHECK(command(i8042::kCmdTestKeyboard) == Bytes{0x00});
  CHECK(command(i8042::kCmdTestAux) == Bytes{0x00});
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 command byte round trip and enable/disable commands") {
  const Bytes initial = command(i8042::kCmdReadCommandByte);
  REQUIRE(initial.size() == 1);
  CHECK(initial[0] == (i8042::kCtrKeyboardInterrupt | i8042::kCtrSystem | i8042::kCtrTranslate));
  out(0x64, i8042::kCmdWriteCommandByte);
  out(0x60, 0x34);
  CHECK(command(i8042::kCmdReadCommandByte) == Bytes{0x34});
  command(i8042::kCmdEnableKeyboard);
  command(i8042::kCmdEnableAux);
  CHECK(command(i8042::kCmdReadCommandByte) == Bytes{0x04});
  command(i8042::kCmdDisableKeyboard);
  command(i8042::kCmdDisableAux);
  CHECK(command(i8042::kCmdReadCommandByte) == Bytes{0x34});
  CHECK_FALSE(kbc->translating());
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keyboard answers atkbd's probe") {
  CHECK(to_keyboard(0xff) == Bytes{0xfa, 0xaa});        // reset
  CHECK(to_keyboard(0xf5) == Bytes{0xfa});              // disable scanning
  CHECK(to_keyboard(0xf2) == Bytes{0xfa, 0xab, 0x41});  // identify, through the translator
  command(i8042::kCmdWriteCommandByte);
  out(0x60, i8042::kCtrKeyboardInterrupt | i8042::kCtrSystem);  // translation off
  CHECK(to_keyboard(0xf2) == Bytes{0xfa, 0xab, 0x83});
  CHECK(to_keyboard(0xed) == Bytes{0xfa});  // LEDs...
  CHECK(to_keyboard(0x07) == Bytes{0xfa});  // ...all on
  CHECK(kbc->save().keyboard_leds == 7);
  CHECK(to_keyboard(0xf3) == Bytes{0xfa});
  CHECK(to_keyboard(0x00) == Bytes{0xfa});
  CHECK(to_keyboard(0xf0) == Bytes{0xfa});
  CHECK(to_keyboard(0x00) == Bytes{0xfa, 0x02});  // current scancode set
  CHECK(to_keyboard(0xf4) == Bytes{0xfa});
  CHECK(to_keyboard(0xee) == Bytes{0xee});
  CHECK(to_keyboard(0x12) == Bytes{0xfe});  // not a command: resend
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 pulses IRQ 1 for each byte when the command byte enables it") {
  const std::vector<std::uint8_t> keys{0x1e, 0x9e};
  CHECK(kbc->queue_keyboard_bytes(keys) == 2);
  CHECK(irq->pulses == 1);
  CHECK(in(0x60) == 0x1e);
  CHECK(irq->pulses == 2);  // the next byte is a new edge
  CHECK(in(0x60) == 0x9e);
  CHECK(irq->pulses == 2);
  CHECK(in(0x60) == 0x9e);  // empty: the last byte again, no new interrupt
  CHECK(irq->pulses == 2);

  command(i8042::kCmdWriteCommandByte);
  out(0x60, i8042::kCtrSystem);  // keyboard interrupt off
  kbc->queue_keyboard_bytes(keys);
  CHECK(irq->pulses == 2);
  CHECK(output_full());
  out(0x64, i8042::kCmdDisableKeyboard);
  CHECK_FALSE(output_full());  // held while the keyboard interface is disabled
  out(0x64, i8042::kCmdEnableKeyboard);
  CHECK(drain() == keys);
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keyboard with scanning disabled sends no keys") {
  to_keyboard(0xf5);
  const std::vector<std::uint8_t> keys{0x1e};
  CHECK(kbc->queue_keyboard_bytes(keys) == 0);
  CHECK_FALSE(output_full());
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 0xfe and output port bit 0 request a reset") {
  out(0x64, i8042::kCmdPulseResetLine);
  CHECK(resets == 1);
  out(0x64, 0xff);  // pulses no line
  CHECK(resets == 1);
  out(0x64, 0xf0);  // pulses lines 0-3, including reset
  CHECK(resets == 2);
  out(0x64, i8042::kCmdWriteOutputPort);
  out(0x60, 0x03);  // reset deasserted, A20 on
  CHECK(resets == 2);
  CHECK(command(i8042::kCmdReadOutputPort) == Bytes{0x03});
  out(0x64, i8042::kCmdWriteOutputPort);
  out(0x60, 0x00);  // reset asserted, A20 off
  CHECK(resets == 3);
  CHECK_FALSE(kbc->a20_enabled());
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 output queues are bounded against a guest that never reads") {
  for (int i = 0; i < 1000; ++i) {
    out(0x64, i8042::kCmdSelfTest);
    out(0x60, 0xee);
  }
  const std::vector<std::uint8_t> flood(I8042Controller::kKeyboardQueueCapacity + 50, 0x1e);
  CHECK(kbc->queue_keyboard_bytes(flood) == I8042Controller::kKeyboardQueueCapacity);
  const nestbox::I8042State state = kbc->save();
  CHECK(state.controller_output.size() <= I8042Controller::kReplyQueueCapacity);
  CHECK(state.keyboard_output.size() <= I8042Controller::kReplyQueueCapacity);
  std::array<std::uint8_t, 4> wide{};
  kbc->read(0, wide);  // wider than the port: the rest reads as all ones
  CHECK(wide[1] == 0xff);
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 state survives save and restore") {
  command(i8042::kCmdWriteCommandByte);
  out(0x60, 0x07);
  out(0x60, 0xed);                 // the keyboard ACKs and waits for the LED byte
  out(0x64, i8042::kCmdSelfTest);  // 0x55 waits too, ahead of the keyboard's byte
  const nestbox::I8042State saved = kbc->save();

  auto line = std::make_shared<FakeInterruptLine>();
  I8042Controller copy(line);
  copy.restore(saved);
  CHECK(line->pulses == 1);  // the waiting byte interrupts on the new wire
  std::array<std::uint8_t, 1> byte{};
  copy.read(i8042::kDataPort, byte);
  CHECK(byte[0] == 0x55);
  copy.read(i8042::kDataPort, byte);
  CHECK(byte[0] == 0xfa);
  const std::array<std::uint8_t, 1> leds{0x02};
  copy.write(i8042::kDataPort, leds);
  CHECK(copy.save().keyboard_leds == 2);
  copy.read(i8042::kDataPort, byte);
  CHECK(byte[0] == 0xfa);
  const std::array<std::uint8_t, 1> read_ctr{i8042::kCmdReadCommandByte};
  copy.write(i8042::kCommandPort, read_ctr);
  copy.read(i8042::kDataPort, byte);
  CHECK(byte[0] == 0x07);
}

// ---- keys from the host ----

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: a normal key through the translator (Linux's setup)") {
  CHECK(kbc->translating());
  CHECK(key("KeyA", true) == Bytes{0x1e});
  CHECK(key("KeyA", false) == Bytes{0x9e});
  CHECK(key("Digit1", true) == Bytes{0x02});
  CHECK(key("F7", false) == Bytes{0xc1});  // set 2 F0 83: the translator's 0x83 case
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: set 2 as is with translation off") {
  set_translation(false);
  CHECK(key("KeyA", true) == Bytes{0x1c});
  CHECK(key("KeyA", false) == Bytes{0xf0, 0x1c});
  CHECK(key("F7", true) == Bytes{0x83});
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: extended keys carry their 0xE0 prefix") {
  CHECK(key("ControlRight", true) == Bytes{0xe0, 0x1d});
  CHECK(key("ControlRight", false) == Bytes{0xe0, 0x9d});
  CHECK(key("ArrowUp", true) == Bytes{0xe0, 0x48});
  CHECK(key("ArrowUp", false) == Bytes{0xe0, 0xc8});
  set_translation(false);
  CHECK(key("ControlRight", true) == Bytes{0xe0, 0x14});
  CHECK(key("ControlRight", false) == Bytes{0xe0, 0xf0, 0x14});
  CHECK(key("ArrowLeft", true) == Bytes{0xe0, 0x6b});
  CHECK(key("ArrowLeft", false) == Bytes{0xe0, 0xf0, 0x6b});
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: Pause and PrintScreen sequences") {
  CHECK(key("Pause", true) == Bytes{0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5});
  CHECK(key("Pause", false).empty());  // Pause has no release
  CHECK(key("PrintScreen", true) == Bytes{0xe0, 0x2a, 0xe0, 0x37});
  CHECK(key("PrintScreen", false) == Bytes{0xe0, 0xb7, 0xe0, 0xaa});
  set_translation(false);
  CHECK(key("Pause", true) == Bytes{0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77});
  CHECK(key("PrintScreen", true) == Bytes{0xe0, 0x12, 0xe0, 0x7c});
  CHECK(key("PrintScreen", false) == Bytes{0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12});
  CHECK(kbc->dropped_keys() == 0);
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: scancode set switch, and set 3 refused") {
  set_translation(false);
  CHECK(to_keyboard(0xf0) == Bytes{0xfa});
  CHECK(to_keyboard(0x01) == Bytes{0xfa});  // set 1
  CHECK(to_keyboard(0xf0) == Bytes{0xfa});
  CHECK(to_keyboard(0x00) == Bytes{0xfa, 0x01});
  CHECK(key("KeyA", true) == Bytes{0x1e});
  CHECK(key("KeyA", false) == Bytes{0x9e});
  CHECK(key("ArrowDown", false) == Bytes{0xe0, 0xd0});
  CHECK(to_keyboard(0xf0) == Bytes{0xfa});
  CHECK(to_keyboard(0x03) == Bytes{0xfe});  // no set 3: Linux falls back to set 2
  CHECK(to_keyboard(0xf0) == Bytes{0xfa});
  CHECK(to_keyboard(0x00) == Bytes{0xfa, 0x01});  // unchanged
  CHECK(to_keyboard(0xf0) == Bytes{0xfa});
  CHECK(to_keyboard(0x02) == Bytes{0xfa});
  CHECK(key("KeyA", true) == Bytes{0x1c});
  // The set number through the translator: the set 1 code of set 2's key 0x02.
  set_translation(true);
  CHECK(to_keyboard(0xf0) == Bytes{0xfa});
  CHECK(to_keyboard(0x00) == Bytes{0xfa, 0x41});
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: reset answers FA AA and returns to set 2") {
  set_translation(false);
  to_keyboard(0xf0);
  to_keyboard(0x01);
  kbc->queue_key(*nestbox::input::find_key_code("KeyB"), true);  // waiting, then reset
  CHECK(to_keyboard(0xff) == Bytes{0xfa, 0xaa});
  CHECK(drain().empty());  // the reset dropped the key still queued
  CHECK(key("KeyA", true) == Bytes{0x1c});
  CHECK(kbc->save().keyboard_scancode_set == 2);
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: disable and enable, LEDs, typematic") {
  CHECK(to_keyboard(0xf5) == Bytes{0xfa});  // scanning off: keys are dropped
  const auto a = *nestbox::input::find_key_code("KeyA");
  CHECK_FALSE(kbc->queue_key(a, true));
  CHECK(kbc->dropped_keys() == 1);
  CHECK(drain().empty());
  CHECK(to_keyboard(0xf4) == Bytes{0xfa});
  CHECK(key("KeyA", true) == Bytes{0x1e});

  // The controller's keyboard interface disabled: keys wait, nothing lost.
  out(0x64, i8042::kCmdDisableKeyboard);
  CHECK(kbc->queue_key(a, false));
  CHECK_FALSE(output_full());
  out(0x64, i8042::kCmdEnableKeyboard);
  CHECK(drain() == Bytes{0x9e});

  CHECK(to_keyboard(0xed) == Bytes{0xfa});
  CHECK(to_keyboard(0x04) == Bytes{0xfa});  // Caps Lock
  CHECK(kbc->keyboard_leds() == 0x04);
  CHECK(to_keyboard(0xf3) == Bytes{0xfa});  // typematic: accepted, never acted on
  CHECK(to_keyboard(0x7f) == Bytes{0xfa});
  CHECK(key("KeyA", true) == Bytes{0x1e});  // a held key sends one make; the host repeats
  CHECK(drain().empty());
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: IRQ 1 and a bounded queue that never splits a key") {
  const auto up = *nestbox::input::find_key_code("ArrowUp");
  CHECK(kbc->queue_key(up, true));
  CHECK(irq->pulses == 1);
  CHECK(in(0x60) == 0xe0);
  CHECK(irq->pulses == 2);
  CHECK(in(0x60) == 0x48);

  const std::vector<std::uint8_t> filler(I8042Controller::kKeyboardQueueCapacity - 1, 0x1e);
  CHECK(kbc->queue_keyboard_bytes(filler) == filler.size());
  CHECK_FALSE(kbc->queue_key(up, true));  // two bytes, one slot: dropped whole
  CHECK(kbc->dropped_keys() == 1);
  CHECK(kbc->save().scancodes.size() == I8042Controller::kKeyboardQueueCapacity - 1);
  CHECK(drain().size() == 64);  // the fixture's drain reads at most 64
}

TEST_CASE_FIXTURE(KbcFixture, "i8042 keys: injection from another thread while a vCPU reads") {
  const auto a = *nestbox::input::find_key_code("KeyA");
  constexpr int kKeys = 2000;
  std::atomic<bool> done{false};
  std::uint64_t refused = 0;
  std::thread ui([&] {
    for (int i = 0; i < kKeys; ++i) {
      while (!kbc->queue_key(a, i % 2 == 0)) {  // full: retry
        ++refused;
        std::this_thread::yield();
      }
    }
    done = true;
  });
  std::vector<std::uint8_t> seen;
  while (!done || output_full()) {
    if (output_full()) seen.push_back(in(0x60));
  }
  ui.join();
  while (output_full()) seen.push_back(in(0x60));
  REQUIRE(seen.size() == kKeys);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i] == (i % 2 == 0 ? 0x1e : 0x9e));
  }
  CHECK(kbc->dropped_keys() == refused);  // every refusal counted, nothing lost
}
