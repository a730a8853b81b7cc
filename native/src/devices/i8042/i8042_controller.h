// The PC's 8042 keyboard controller with a PS/2 keyboard behind it, enough for
// Linux's i8042 and atkbd drivers (self-tests, command byte, identify, LEDs,
// scanning on/off) and for the reset line guests pulse to reboot.
//
// Integration: port I/O 0x60 (data) and 0x64 (status / command). The device's
// offsets are port - 0x60, and the two ports are attached separately so 0x61
// (PIT/speaker) stays free:
//   auto kbc = std::make_shared<I8042Controller>(irq1, [&] { request_reset(); });
//   port_bus.attach(0x60, 1, kbc);
//   port_bus.attach(0x64, 1, std::make_shared<BusWindow>(kbc, i8042::kCommandPort));
// IRQ 1 (ISA, edge): `pulse()` each time a keyboard byte appears in the output
// buffer while the command byte enables the keyboard interrupt. The reset
// callback runs on the vCPU thread that wrote 0xfe (or cleared output-port
// bit 0), outside the device's lock; the machine reboots or stops the VM.
// Keys from the host: `queue_key(key, pressed)` from any thread (the UI's
// input thread; the vCPUs use the same lock). The keyboard sends the key's
// make or break code in its current scancode set (2 after reset, 1 if the
// guest switched with 0xF0 0x01; set 3 is refused with 0xFE, as keyboards
// without it do, and Linux then stays on set 2), and the controller
// translates it to set 1 when the command byte's translate bit is on (Linux
// and firmware turn it on). Everything the keyboard sends, command replies
// included, goes through that translation, as on the real chip.
// Scanning disabled (0xF5) drops keys; the controller's keyboard interface
// disabled (0xAD / command byte bit 4) holds them. A full queue drops the
// whole key (never half a sequence) and counts it. There is no typematic
// repeat of our own: a host that auto-repeats calls queue_key(key, true)
// again, which is what a typematic keyboard sends.
// `queue_keyboard_bytes()` remains for raw bytes the guest should see as is.
// There is no mouse: the AUX port answers its interface test but nothing
// behind it replies, and the DSDT lists no PS/2 mouse so Linux skips it.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "bus/bus_device.h"
#include "devices/input/key_codes.h"
#include "devices/interrupt_line.h"

namespace nestbox {

namespace i8042 {
inline constexpr std::uint64_t kDataPort = 0;     // 0x60
inline constexpr std::uint64_t kCommandPort = 4;  // 0x64

// Status register
inline constexpr std::uint8_t kStatusOutputFull = 0x01;
inline constexpr std::uint8_t kStatusInputFull = 0x02;
inline constexpr std::uint8_t kStatusSystem = 0x04;
inline constexpr std::uint8_t kStatusLastWasCommand = 0x08;
inline constexpr std::uint8_t kStatusNotInhibited = 0x10;
inline constexpr std::uint8_t kStatusAuxData = 0x20;

// Command byte ("CTR")
inline constexpr std::uint8_t kCtrKeyboardInterrupt = 0x01;
inline constexpr std::uint8_t kCtrAuxInterrupt = 0x02;
inline constexpr std::uint8_t kCtrSystem = 0x04;
inline constexpr std::uint8_t kCtrKeyboardDisabled = 0x10;
inline constexpr std::uint8_t kCtrAuxDisabled = 0x20;
inline constexpr std::uint8_t kCtrTranslate = 0x40;

// Output port
inline constexpr std::uint8_t kOutputPortResetDeasserted = 0x01;  // 0 pulls the CPU reset
inline constexpr std::uint8_t kOutputPortA20 = 0x02;

// Controller commands
inline constexpr std::uint8_t kCmdReadCommandByte = 0x20;
inline constexpr std::uint8_t kCmdWriteCommandByte = 0x60;
inline constexpr std::uint8_t kCmdDisableAux = 0xa7;
inline constexpr std::uint8_t kCmdEnableAux = 0xa8;
inline constexpr std::uint8_t kCmdTestAux = 0xa9;
inline constexpr std::uint8_t kCmdSelfTest = 0xaa;
inline constexpr std::uint8_t kCmdTestKeyboard = 0xab;
inline constexpr std::uint8_t kCmdDisableKeyboard = 0xad;
inline constexpr std::uint8_t kCmdEnableKeyboard = 0xae;
inline constexpr std::uint8_t kCmdReadInputPort = 0xc0;
inline constexpr std::uint8_t kCmdReadOutputPort = 0xd0;
inline constexpr std::uint8_t kCmdWriteOutputPort = 0xd1;
inline constexpr std::uint8_t kCmdWriteKeyboardOutput = 0xd2;
inline constexpr std::uint8_t kCmdWriteAuxOutput = 0xd3;
inline constexpr std::uint8_t kCmdWriteAux = 0xd4;
inline constexpr std::uint8_t kCmdPulseResetLine = 0xfe;

inline constexpr std::uint8_t kSelfTestPassed = 0x55;
inline constexpr std::uint8_t kInterfaceTestPassed = 0x00;

// Keyboard replies
inline constexpr std::uint8_t kKeyboardAck = 0xfa;
inline constexpr std::uint8_t kKeyboardResend = 0xfe;
inline constexpr std::uint8_t kKeyboardSelfTestPassed = 0xaa;
inline constexpr std::uint8_t kKeyboardEcho = 0xee;
}  // namespace i8042

// The guest-visible state, for save/restore.
struct I8042State {
  std::array<std::uint8_t, 32> ram{};  // byte 0 is the command byte
  std::uint8_t output_port = i8042::kOutputPortResetDeasserted | i8042::kOutputPortA20;
  std::uint8_t pending_command = 0;    // controller command waiting for its data byte; 0: none
  bool last_write_was_command = false;
  std::uint8_t last_output = 0;        // what port 0x60 reads when the buffer is empty
  // Bytes waiting for port 0x60, in this priority: controller replies, the
  // keyboard's replies to commands, then scancodes.
  std::vector<std::uint8_t> controller_output;
  std::vector<std::uint8_t> keyboard_output;
  std::vector<std::uint8_t> scancodes;
  // The keyboard behind the controller.
  bool keyboard_scanning = true;
  std::uint8_t keyboard_pending_command = 0;  // command waiting for its parameter; 0: none
  std::uint8_t keyboard_leds = 0;
  std::uint8_t keyboard_scancode_set = 2;
  std::uint8_t keyboard_typematic = 0x2b;
};

class I8042Controller : public BusDevice {
 public:
  using ResetRequest = std::function<void()>;

  // Scancodes waiting beyond this are dropped (a guest not reading its keyboard).
  static constexpr std::size_t kKeyboardQueueCapacity = 1024;
  // Replies to one controller or keyboard command are a few bytes; a guest
  // that never reads them cannot make the queue grow past this.
  static constexpr std::size_t kReplyQueueCapacity = 16;

  explicit I8042Controller(std::shared_ptr<InterruptLine> irq1 = nullptr,
                           ResetRequest reset_request = nullptr);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Bytes from the keyboard (scancodes), delivered while the guest has the
  // keyboard enabled and scanning. Returns how many were accepted.
  std::size_t queue_keyboard_bytes(std::span<const std::uint8_t> bytes);
  // A key went down or up on the host keyboard (any thread). Returns false
  // when the key was dropped: scanning disabled, a scancode set we cannot
  // produce, or no room for its whole sequence. A make-only key's release
  // sends nothing and returns true.
  bool queue_key(const input::KeyCode& key, bool pressed);
  // Keys dropped by queue_key() since construction (statistics, not saved).
  [[nodiscard]] std::uint64_t dropped_keys() const;
  // The LEDs the guest last set (bit 0 Scroll Lock, 1 Num Lock, 2 Caps Lock).
  [[nodiscard]] std::uint8_t keyboard_leds() const;
  // Whether the guest asked the controller to translate set 2 to set 1: the
  // input layer then queues set 1 codes (we do not translate).
  [[nodiscard]] bool translating() const;
  // Output-port bit 1; we do not mask A20 (guests booted in long mode never clear it).
  [[nodiscard]] bool a20_enabled() const;

  [[nodiscard]] I8042State save() const;
  void restore(const I8042State& state);

 private:
  std::uint8_t& command_byte() { return ram_[0]; }
  std::uint8_t status();
  std::uint8_t read_data();
  // Each returns true when the guest asked for a CPU reset.
  bool write_command(std::uint8_t command);
  bool write_data(std::uint8_t value);
  bool write_output_port(std::uint8_t value);
  void keyboard_command(std::uint8_t value);
  void reply_from_keyboard(std::initializer_list<std::uint8_t> bytes);
  void reply_from_controller(std::uint8_t byte);
  // The queue whose front byte port 0x60 would return now, if any.
  std::deque<std::uint8_t>* visible_queue();
  void update_interrupt();

  std::shared_ptr<InterruptLine> irq1_;
  ResetRequest reset_request_;
  mutable std::mutex mutex_;
  std::array<std::uint8_t, 32> ram_{};
  std::uint8_t output_port_ = 0;
  std::uint8_t pending_command_ = 0;
  bool last_write_was_command_ = false;
  std::uint8_t last_output_ = 0;
  std::deque<std::uint8_t> controller_output_;
  std::deque<std::uint8_t> keyboard_output_;
  std::deque<std::uint8_t> scancodes_;
  bool keyboard_scanning_ = true;
  std::uint8_t keyboard_pending_command_ = 0;
  std::uint8_t keyboard_leds_ = 0;
  std::uint8_t keyboard_scancode_set_ = 2;
  std::uint8_t keyboard_typematic_ = 0x2b;
  bool irq_raised_ = false;  // a keyboard byte is in the buffer and IRQ 1 fired for it
  std::uint64_t dropped_keys_ = 0;
};

}  // namespace nestbox
