// The 8042 as Linux's i8042 and atkbd drivers drive it.
#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <vector>

#include "bus/address_bus.h"
#include "devices/bus_window.h"
#include "devices/i8042/i8042_controller.h"
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
