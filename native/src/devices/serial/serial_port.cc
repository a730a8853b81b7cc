#include "devices/serial/serial_port.h"

#include <algorithm>
#include <vector>

namespace nestbox {

void SerialPort::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  // The registers are byte-wide; a wider access reads consecutive registers.
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < uart::kRegisterCount ? read_register(offset + i) : 0xff;
  }
  update_interrupt_line();
}

void SerialPort::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> transmitted;
  {
    const std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < data.size() && offset + i < uart::kRegisterCount; ++i) {
      std::uint8_t byte = 0;
      if (write_register(offset + i, data[i], byte)) {
        transmitted.push_back(byte);
      }
    }
    update_interrupt_line();
  }
  // Outside the lock: the output may take its time and must not re-enter us locked.
  if (!transmitted.empty() && output_) {
    output_(transmitted);
  }
}

std::uint8_t SerialPort::read_register(std::uint64_t offset) {
  const bool divisor_latch = (line_control_ & uart::kLcrDivisorLatch) != 0;
  switch (offset) {
    case uart::kData: {
      if (divisor_latch) {
        return divisor_low_;
      }
      if (receive_buffer_.empty()) {
        return 0;
      }
      const std::uint8_t byte = receive_buffer_.front();
      receive_buffer_.pop_front();
      return byte;
    }
    case uart::kInterruptEnable: return divisor_latch ? divisor_high_ : interrupt_enable_;
    case uart::kInterruptIdent: {
      const std::uint8_t cause = pending_interrupt();
      // Reading IIR while it reports THRE is one of the two ways to clear it
      // (the other is writing THR); Linux's THRE probe depends on this.
      if (cause == uart::kIirTransmitEmpty) {
        transmit_empty_pending_ = false;
      }
      return static_cast<std::uint8_t>(cause | (fifos_enabled_ ? uart::kIirFifosEnabled : 0));
    }
    case uart::kLineControl: return line_control_;
    case uart::kModemControl: return modem_control_;
    case uart::kLineStatus: {
      const std::uint8_t lsr = static_cast<std::uint8_t>(
          uart::kLsrTransmitHoldingEmpty | uart::kLsrTransmitterEmpty | line_status_errors_ |
          (receive_buffer_.empty() ? 0 : uart::kLsrDataReady));
      line_status_errors_ = 0;  // errors are reported once
      return lsr;
    }
    case uart::kModemStatus: {
      const std::uint8_t msr = modem_inputs() | modem_status_deltas_;
      modem_status_deltas_ = 0;
      return msr;
    }
    case uart::kScratch: return scratch_;
    default: return 0xff;
  }
}

bool SerialPort::write_register(std::uint64_t offset, std::uint8_t value,
                                std::uint8_t& transmitted) {
  const bool divisor_latch = (line_control_ & uart::kLcrDivisorLatch) != 0;
  switch (offset) {
    case uart::kData:
      if (divisor_latch) {
        divisor_low_ = value;
        return false;
      }
      // The byte leaves THR at once, so THR is empty again: writing THR clears
      // the THRE cause and the instant transmission raises it anew.
      transmit_empty_pending_ = true;
      if ((modem_control_ & uart::kMcrLoopback) != 0) {
        // Loopback: what is sent comes straight back in (drivers use this to probe).
        push_received(value);
        return false;
      }
      transmitted = value;
      return true;
    case uart::kInterruptEnable:
      if (divisor_latch) {
        divisor_high_ = value;
      } else {
        const std::uint8_t enabled = value & 0x0f;
        // Enabling THRE while THR is empty (always, here) raises it at once.
        if ((enabled & uart::kIerTransmitEmpty) != 0 &&
            (interrupt_enable_ & uart::kIerTransmitEmpty) == 0) {
          transmit_empty_pending_ = true;
        }
        interrupt_enable_ = enabled;
      }
      return false;
    case uart::kInterruptIdent: {  // FCR, whatever DLAB says
      const bool enable = (value & uart::kFcrEnableFifos) != 0;
      // Switching the FIFOs on or off resets them, as on the 16550A.
      if (enable != fifos_enabled_ || (value & uart::kFcrClearReceive) != 0) {
        receive_buffer_.clear();
      }
      fifos_enabled_ = enable;
      fifo_trigger_ = value & uart::kFcrTriggerMask;
      return false;
    }
    case uart::kLineControl: line_control_ = value; return false;
    case uart::kModemControl: write_modem_control(value & 0x1f); return false;
    case uart::kScratch: scratch_ = value; return false;
    default: return false;  // LSR and MSR are read-only
  }
}

void SerialPort::write_modem_control(std::uint8_t value) {
  const std::uint8_t before = modem_inputs();
  modem_control_ = value;
  const std::uint8_t after = modem_inputs();
  const std::uint8_t changed = before ^ after;
  // DCTS, DDSR and DDCD flag any change; TERI only the trailing edge of RI.
  std::uint8_t deltas = 0;
  if ((changed & 0x10) != 0) deltas |= 0x01;
  if ((changed & 0x20) != 0) deltas |= 0x02;
  if ((before & 0x40) != 0 && (after & 0x40) == 0) deltas |= 0x04;
  if ((changed & 0x80) != 0) deltas |= 0x08;
  modem_status_deltas_ |= deltas;
}

std::uint8_t SerialPort::modem_inputs() const {
  if ((modem_control_ & uart::kMcrLoopback) == 0) {
    return uart::kMsrConnected;
  }
  // Loopback wires the modem outputs to the inputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
  const std::uint8_t mcr = modem_control_;
  return static_cast<std::uint8_t>(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) |
                                   ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4));
}

void SerialPort::push_received(std::uint8_t byte) {
  if (receive_buffer_.size() >= kReceiveCapacity) {
    line_status_errors_ |= uart::kLsrOverrun;  // the byte is lost, as on a full FIFO
    return;
  }
  receive_buffer_.push_back(byte);
}

std::size_t SerialPort::trigger_level() const {
  if (!fifos_enabled_) {
    return 1;
  }
  switch (fifo_trigger_ >> 6) {
    case 0: return 1;
    case 1: return 4;
    case 2: return 8;
    default: return 14;
  }
}

std::uint8_t SerialPort::pending_interrupt() const {
  // Priority order of the 16550A: line status, received data (or its
  // timeout), transmitter empty, modem status.
  if ((interrupt_enable_ & uart::kIerLineStatus) != 0 &&
      (line_status_errors_ & uart::kLsrErrors) != 0) {
    return uart::kIirLineStatus;
  }
  if ((interrupt_enable_ & uart::kIerReceivedData) != 0 && !receive_buffer_.empty()) {
    // Below the trigger level a real UART reports a character timeout after
    // four idle character times. We have no timer, and the bytes that will
    // arrive are already here, so the timeout is reported at once: the guest
    // drains what there is either way.
    return receive_buffer_.size() >= trigger_level() ? uart::kIirReceivedData
                                                     : uart::kIirCharacterTimeout;
  }
  if ((interrupt_enable_ & uart::kIerTransmitEmpty) != 0 && transmit_empty_pending_) {
    return uart::kIirTransmitEmpty;
  }
  if ((interrupt_enable_ & uart::kIerModemStatus) != 0 && modem_status_deltas_ != 0) {
    return uart::kIirModemStatus;
  }
  return uart::kIirNoInterruptPending;
}

void SerialPort::update_interrupt_line() {
  // On a PC the UART's interrupt output reaches the IRQ wire through OUT2;
  // loopback forces the outputs inactive, so it disconnects the wire too.
  const bool level = pending_interrupt() != uart::kIirNoInterruptPending &&
                     (modem_control_ & (uart::kMcrOut2 | uart::kMcrLoopback)) == uart::kMcrOut2;
  if (level != irq_level_) {
    irq_level_ = level;
    if (irq_) {
      irq_->set_level(level);
    }
  }
}

std::size_t SerialPort::receive(std::span<const std::uint8_t> bytes) {
  const std::lock_guard lock(mutex_);
  std::size_t accepted = 0;
  for (std::uint8_t byte : bytes) {
    if (receive_buffer_.size() >= kReceiveCapacity) {
      line_status_errors_ |= uart::kLsrOverrun;
      break;
    }
    receive_buffer_.push_back(byte);
    ++accepted;
  }
  update_interrupt_line();
  return accepted;
}

SerialPortState SerialPort::save() const {
  const std::lock_guard lock(mutex_);
  SerialPortState state;
  state.interrupt_enable = interrupt_enable_;
  state.line_control = line_control_;
  state.modem_control = modem_control_;
  state.scratch = scratch_;
  state.divisor_low = divisor_low_;
  state.divisor_high = divisor_high_;
  state.fifos_enabled = fifos_enabled_;
  state.receive_buffer.assign(receive_buffer_.begin(), receive_buffer_.end());
  state.fifo_trigger = fifo_trigger_;
  state.line_status_errors = line_status_errors_;
  state.modem_status_deltas = modem_status_deltas_;
  state.transmit_empty_pending = transmit_empty_pending_;
  return state;
}

void SerialPort::restore(const SerialPortState& state) {
  const std::lock_guard lock(mutex_);
  interrupt_enable_ = state.interrupt_enable & 0x0f;
  line_control_ = state.line_control;
  modem_control_ = state.modem_control & 0x1f;
  scratch_ = state.scratch;
  divisor_low_ = state.divisor_low;
  divisor_high_ = state.divisor_high;
  fifos_enabled_ = state.fifos_enabled;
  fifo_trigger_ = state.fifo_trigger & uart::kFcrTriggerMask;
  line_status_errors_ = state.line_status_errors & uart::kLsrErrors;
  modem_status_deltas_ = state.modem_status_deltas & uart::kMsrDeltas;
  transmit_empty_pending_ = state.transmit_empty_pending;
  const std::size_t kept = std::min(state.receive_buffer.size(), kReceiveCapacity);
  receive_buffer_.assign(state.receive_buffer.begin(),
                         state.receive_buffer.begin() + static_cast<std::ptrdiff_t>(kept));
  // Drive the line whatever we believed before: the wire is new after a restore.
  irq_level_ = pending_interrupt() != uart::kIirNoInterruptPending &&
               (modem_control_ & (uart::kMcrOut2 | uart::kMcrLoopback)) == uart::kMcrOut2;
  if (irq_) {
    irq_->set_level(irq_level_);
  }
}

}  // namespace nestbox
