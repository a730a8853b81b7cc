#include "devices/i8042/i8042_controller.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "devices/i8042/scancode_translation.h"

namespace nestbox {

namespace {

constexpr std::uint8_t kDefaultTypematic = 0x2b;  // 10.9 characters/s, 500 ms delay

template <typename Queue>
std::vector<std::uint8_t> to_vector(const Queue& queue) {
  return {queue.begin(), queue.end()};
}

template <typename Queue>
void assign_bounded(Queue& queue, const std::vector<std::uint8_t>& bytes, std::size_t capacity) {
  const std::size_t kept = std::min(bytes.size(), capacity);
  queue.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(kept));
}

}  // namespace

I8042Controller::I8042Controller(std::shared_ptr<InterruptLine> irq1, ResetRequest reset_request)
    : irq1_(std::move(irq1)), reset_request_(std::move(reset_request)) {
  I8042State initial;
  // What firmware leaves: keyboard interrupt on, POST passed, translation on.
  initial.ram[0] = i8042::kCtrKeyboardInterrupt | i8042::kCtrSystem | i8042::kCtrTranslate;
  restore(initial);
}

void I8042Controller::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  const std::lock_guard lock(mutex_);
  // Byte-wide ports; a wider access is what an unconnected bus would return past the first.
  std::fill(data.begin(), data.end(), 0xff);
  if (data.empty()) {
    return;
  }
  if (offset == i8042::kDataPort) {
    data[0] = read_data();
  } else if (offset == i8042::kCommandPort) {
    data[0] = status();
  }
  update_interrupt();
}

void I8042Controller::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  bool reset = false;
  {
    const std::lock_guard lock(mutex_);
    if (data.empty()) {
      return;
    }
    if (offset == i8042::kDataPort) {
      reset = write_data(data[0]);
    } else if (offset == i8042::kCommandPort) {
      reset = write_command(data[0]);
    }
    update_interrupt();
  }
  // Outside the lock: the machine may stop vCPUs, one of which could be in here.
  if (reset && reset_request_) {
    reset_request_();
  }
}

std::uint8_t I8042Controller::status() {
  std::uint8_t value = i8042::kStatusNotInhibited;
  if (visible_queue() != nullptr) {
    value |= i8042::kStatusOutputFull;
  }
  if ((ram_[0] & i8042::kCtrSystem) != 0) {
    value |= i8042::kStatusSystem;
  }
  if (last_write_was_command_) {
    value |= i8042::kStatusLastWasCommand;
  }
  // Input is consumed at once, so IBF never shows: drivers never wait on us.
  return value;
}

std::deque<std::uint8_t>* I8042Controller::visible_queue() {
  if (!controller_output_.empty()) {
    return &controller_output_;
  }
  if ((ram_[0] & i8042::kCtrKeyboardDisabled) != 0) {
    return nullptr;  // the keyboard's clock line is held: its bytes wait
  }
  if (!keyboard_output_.empty()) {
    return &keyboard_output_;
  }
  if (!scancodes_.empty()) {
    return &scancodes_;
  }
  return nullptr;
}

std::uint8_t I8042Controller::read_data() {
  std::deque<std::uint8_t>* queue = visible_queue();
  if (queue == nullptr) {
    return last_output_;  // the output buffer keeps its last byte
  }
  last_output_ = queue->front();
  queue->pop_front();
  irq_raised_ = false;  // OBF fell; the next byte is a new edge
  return last_output_;
}

void I8042Controller::reply_from_controller(std::uint8_t byte) {
  if (controller_output_.size() < kReplyQueueCapacity) {
    controller_output_.push_back(byte);
  }
}

void I8042Controller::reply_from_keyboard(std::initializer_list<std::uint8_t> bytes) {
  // Replies cross the translator like keys: most are >= 0x80 and pass
  // unchanged, but identify's 0x83 reads 0x41 and a scancode set number
  // reads as the set 1 code of the set 2 key with that number.
  const bool translate = (ram_[0] & i8042::kCtrTranslate) != 0;
  for (std::uint8_t byte : bytes) {
    if (keyboard_output_.size() < kReplyQueueCapacity) {
      keyboard_output_.push_back(translate ? i8042::translate_byte(byte) : byte);
    }
  }
}

bool I8042Controller::write_command(std::uint8_t command) {
  last_write_was_command_ = true;
  pending_command_ = 0;  // a new command abandons one still waiting for data
  if (command >= 0x20 && command <= 0x3f) {
    reply_from_controller(ram_[command & 0x1f]);  // 0x20 reads the command byte
    return false;
  }
  if (command >= 0x60 && command <= 0x7f) {
    pending_command_ = command;
    return false;
  }
  if (command >= 0xf0) {
    // Pulse output-port lines 0-3 low for each clear bit; line 0 is CPU reset.
    return (command & 0x01) == 0;
  }
  switch (command) {
    case i8042::kCmdDisableAux: ram_[0] |= i8042::kCtrAuxDisabled; break;
    case i8042::kCmdEnableAux: ram_[0] &= static_cast<std::uint8_t>(~i8042::kCtrAuxDisabled); break;
    case i8042::kCmdTestAux: reply_from_controller(i8042::kInterfaceTestPassed); break;
    case i8042::kCmdSelfTest: reply_from_controller(i8042::kSelfTestPassed); break;
    case i8042::kCmdTestKeyboard: reply_from_controller(i8042::kInterfaceTestPassed); break;
    case i8042::kCmdDisableKeyboard: ram_[0] |= i8042::kCtrKeyboardDisabled; break;
    case i8042::kCmdEnableKeyboard:
      ram_[0] &= static_cast<std::uint8_t>(~i8042::kCtrKeyboardDisabled);
      break;
    case i8042::kCmdReadInputPort: reply_from_controller(0x80); break;  // keyboard not inhibited
    case i8042::kCmdReadOutputPort: {
      std::uint8_t value = output_port_ & 0x0f;
      if (!keyboard_output_.empty() || !scancodes_.empty() || !controller_output_.empty()) {
        value |= 0x10;  // keyboard output buffer full
      }
      reply_from_controller(value);
      break;
    }
    case i8042::kCmdWriteOutputPort:
    case i8042::kCmdWriteKeyboardOutput:
    case i8042::kCmdWriteAuxOutput:
    case i8042::kCmdWriteAux: pending_command_ = command; break;
    case 0xdd: output_port_ &= static_cast<std::uint8_t>(~i8042::kOutputPortA20); break;
    case 0xdf: output_port_ |= i8042::kOutputPortA20; break;
    case 0xe0: reply_from_controller(0x00); break;  // test inputs
    default: break;  // vendor commands: ignored, as a controller without them would
  }
  return false;
}

bool I8042Controller::write_data(std::uint8_t value) {
  last_write_was_command_ = false;
  const std::uint8_t command = pending_command_;
  pending_command_ = 0;
  if (command >= 0x60 && command <= 0x7f) {
    ram_[command & 0x1f] = value;  // 0x60 writes the command byte
    return false;
  }
  switch (command) {
    case i8042::kCmdWriteOutputPort: return write_output_port(value);
    case i8042::kCmdWriteKeyboardOutput:
      // The byte comes back as if the keyboard had sent it.
      if (keyboard_output_.size() < kReplyQueueCapacity) {
        keyboard_output_.push_back(value);
      }
      return false;
    case i8042::kCmdWriteAuxOutput:
    case i8042::kCmdWriteAux: return false;  // no mouse: nothing echoes or answers
    default: keyboard_command(value); return false;
  }
}

bool I8042Controller::write_output_port(std::uint8_t value) {
  output_port_ = value;
  if ((value & i8042::kOutputPortResetDeasserted) == 0) {
    // The reset line is held; it is released when the machine resets us.
    output_port_ |= i8042::kOutputPortResetDeasserted;
    return true;
  }
  return false;
}

void I8042Controller::keyboard_command(std::uint8_t value) {
  const std::uint8_t pending = keyboard_pending_command_;
  keyboard_pending_command_ = 0;
  switch (pending) {
    case 0xed:  // set LEDs
      keyboard_leds_ = value & 0x07;
      reply_from_keyboard({i8042::kKeyboardAck});
      return;
    case 0xf3:  // set typematic rate and delay
      keyboard_typematic_ = value & 0x7f;
      reply_from_keyboard({i8042::kKeyboardAck});
      return;
    case 0xf0:  // get (0) or set (1, 2) the scancode set
      if (value == 0) {
        reply_from_keyboard({i8042::kKeyboardAck, keyboard_scancode_set_});
      } else if (value == 1 || value == 2) {
        keyboard_scancode_set_ = value;
        scancodes_.clear();  // keys already queued belong to the old set
        reply_from_keyboard({i8042::kKeyboardAck});
      } else {
        // Set 3 (and nonsense): refused, as by the many keyboards without
        // set 3; Linux's atkbd then keeps set 2.
        reply_from_keyboard({i8042::kKeyboardResend});
      }
      return;
    default: break;
  }
  switch (value) {
    case 0xed:
    case 0xf3:
    case 0xf0:
      keyboard_pending_command_ = value;
      reply_from_keyboard({i8042::kKeyboardAck});
      break;
    case 0xee: reply_from_keyboard({i8042::kKeyboardEcho}); break;
    case 0xf2:  // identify: an MF2 keyboard, AB 83 (AB 41 through the translator)
      reply_from_keyboard({i8042::kKeyboardAck, 0xab, 0x83});
      break;
    case 0xf4:
      keyboard_scanning_ = true;
      reply_from_keyboard({i8042::kKeyboardAck});
      break;
    case 0xf5:  // disable scanning and restore defaults
    case 0xf6:  // restore defaults
      keyboard_scanning_ = value == 0xf6;
      keyboard_typematic_ = kDefaultTypematic;
      keyboard_leds_ = 0;
      scancodes_.clear();
      reply_from_keyboard({i8042::kKeyboardAck});
      break;
    case 0xff:  // reset and self-test
      keyboard_scanning_ = true;
      keyboard_typematic_ = kDefaultTypematic;
      keyboard_leds_ = 0;
      keyboard_scancode_set_ = 2;
      scancodes_.clear();
      reply_from_keyboard({i8042::kKeyboardAck, i8042::kKeyboardSelfTestPassed});
      break;
    default:
      if (value >= 0xf7 && value <= 0xfe) {
        reply_from_keyboard({i8042::kKeyboardAck});  // set-3 key modes, resend
      } else {
        reply_from_keyboard({i8042::kKeyboardResend});  // not a command we know
      }
      break;
  }
}

void I8042Controller::update_interrupt() {
  // IRQ 1 follows OBF for keyboard-side bytes when the command byte enables
  // it; the ISA line is edge-triggered, so each new byte is one pulse.
  const bool want = visible_queue() != nullptr && (ram_[0] & i8042::kCtrKeyboardInterrupt) != 0;
  if (want && !irq_raised_ && irq1_) {
    irq1_->pulse();
  }
  irq_raised_ = want;
}

std::size_t I8042Controller::queue_keyboard_bytes(std::span<const std::uint8_t> bytes) {
  const std::lock_guard lock(mutex_);
  if (!keyboard_scanning_) {
    return 0;  // the guest told the keyboard to stop sending keys
  }
  std::size_t accepted = 0;
  for (std::uint8_t byte : bytes) {
    if (scancodes_.size() >= kKeyboardQueueCapacity) {
      break;
    }
    scancodes_.push_back(byte);
    ++accepted;
  }
  update_interrupt();
  return accepted;
}

bool I8042Controller::queue_key(const input::KeyCode& key, bool pressed) {
  const std::lock_guard lock(mutex_);
  if (!keyboard_scanning_ || (keyboard_scancode_set_ != 1 && keyboard_scancode_set_ != 2)) {
    ++dropped_keys_;
    return false;
  }
  const auto set = static_cast<input::ScancodeSet>(keyboard_scancode_set_);
  input::Scancode sequence;
  if (pressed) {
    sequence = input::make_code(key, set);
  } else {
    const std::optional<input::Scancode> release = input::break_code(key, set);
    if (!release) return true;  // Pause and friends: nothing on release
    sequence = *release;
  }
  std::vector<std::uint8_t> bytes = sequence.to_vector();
  if ((ram_[0] & i8042::kCtrTranslate) != 0) {
    bytes = i8042::translate_bytes(bytes);
  }
  // All or nothing: half a sequence (an 0xE0 without its code, a Pause cut
  // short) would confuse the guest's decoder long after the flood is over.
  if (scancodes_.size() + bytes.size() > kKeyboardQueueCapacity) {
    ++dropped_keys_;
    return false;
  }
  scancodes_.insert(scancodes_.end(), bytes.begin(), bytes.end());
  update_interrupt();
  return true;
}

std::uint64_t I8042Controller::dropped_keys() const {
  const std::lock_guard lock(mutex_);
  return dropped_keys_;
}

std::uint8_t I8042Controller::keyboard_leds() const {
  const std::lock_guard lock(mutex_);
  return keyboard_leds_;
}

bool I8042Controller::translating() const {
  const std::lock_guard lock(mutex_);
  return (ram_[0] & i8042::kCtrTranslate) != 0;
}

bool I8042Controller::a20_enabled() const {
  const std::lock_guard lock(mutex_);
  return (output_port_ & i8042::kOutputPortA20) != 0;
}

I8042State I8042Controller::save() const {
  const std::lock_guard lock(mutex_);
  I8042State state;
  state.ram = ram_;
  state.output_port = output_port_;
  state.pending_command = pending_command_;
  state.last_write_was_command = last_write_was_command_;
  state.last_output = last_output_;
  state.controller_output = to_vector(controller_output_);
  state.keyboard_output = to_vector(keyboard_output_);
  state.scancodes = to_vector(scancodes_);
  state.keyboard_scanning = keyboard_scanning_;
  state.keyboard_pending_command = keyboard_pending_command_;
  state.keyboard_leds = keyboard_leds_;
  state.keyboard_scancode_set = keyboard_scancode_set_;
  state.keyboard_typematic = keyboard_typematic_;
  return state;
}

void I8042Controller::restore(const I8042State& state) {
  const std::lock_guard lock(mutex_);
  ram_ = state.ram;
  output_port_ = state.output_port | i8042::kOutputPortResetDeasserted;
  pending_command_ = state.pending_command;
  last_write_was_command_ = state.last_write_was_command;
  last_output_ = state.last_output;
  assign_bounded(controller_output_, state.controller_output, kReplyQueueCapacity);
  assign_bounded(keyboard_output_, state.keyboard_output, kReplyQueueCapacity);
  assign_bounded(scancodes_, state.scancodes, kKeyboardQueueCapacity);
  keyboard_scanning_ = state.keyboard_scanning;
  keyboard_pending_command_ = state.keyboard_pending_command;
  keyboard_leds_ = state.keyboard_leds & 0x07;
  // Sets 1 and 2 only (older snapshots may say 3, which we no longer accept).
  keyboard_scancode_set_ = state.keyboard_scancode_set == 1 ? 1 : 2;
  keyboard_typematic_ = state.keyboard_typematic & 0x7f;
  // A byte already waiting gets its interrupt again on the new wire.
  irq_raised_ = false;
  update_interrupt();
}

}  // namespace nestbox
