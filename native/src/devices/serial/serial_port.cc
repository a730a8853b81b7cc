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
    case uart::kInterruptIdent:
      return uart::kIirNoInterruptPending | (fifos_enabled_ ? uart::kIirFifosEnabled : 0);
    case uart::kLineControl: return line_control_;
    case uart::kModemControl: return modem_control_;
    case uart::kLineStatus:
      return uart::kLsrTransmitHoldingEmpty | uart::kLsrTransmitterEmpty |
             (receive_buffer_.empty() ? 0 : uart::kLsrDataReady);
    case uart::kModemStatus: return modem_status();
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
      if ((modem_control_ & uart::kMcrLoopback) != 0) {
        // Loopback: what is sent comes straight back in (drivers use this to probe).
        if (receive_buffer_.size() < kReceiveCapacity) {
          receive_buffer_.push_back(value);
        }
        return false;
      }
      transmitted = value;
      return true;
    case uart::kInterruptEnable:
      if (divisor_latch) {
        divisor_high_ = value;
      } else {
        interrupt_enable_ = value & 0x0f;
      }
      return false;
    case uart::kInterruptIdent:  // FCR
      fifos_enabled_ = (value & uart::kFcrEnableFifos) != 0;
      if ((value & uart::kFcrClearReceive) != 0) {
        receive_buffer_.clear();
      }
      return false;
    case uart::kLineControl: line_control_ = value; return false;
    case uart::kModemControl: modem_control_ = value & 0x1f; return false;
    case uart::kScratch: scratch_ = value; return false;
    default: return false;  // LSR and MSR are read-only
  }
}

std::uint8_t SerialPort::modem_status() const {
  if ((modem_control_ & uart::kMcrLoopback) == 0) {
    return uart::kMsrConnected;
  }
  // Loopback wires the modem outputs to the inputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
  const std::uint8_t mcr = modem_control_;
  return static_cast<std::uint8_t>(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) |
                                   ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4));
}

std::size_t SerialPort::receive(std::span<const std::uint8_t> bytes) {
  const std::lock_guard lock(mutex_);
  std::size_t accepted = 0;
  for (std::uint8_t byte : bytes) {
    if (receive_buffer_.size() >= kReceiveCapacity) {
      break;
    }
    receive_buffer_.push_back(byte);
    ++accepted;
  }
  return accepted;
}

SerialPortState SerialPort::save() const {
  const std::lock_guard lock(mutex_);
  return SerialPortState{interrupt_enable_, line_control_,  modem_control_,
                         scratch_,          divisor_low_,   divisor_high_,
                         fifos_enabled_,    {receive_buffer_.begin(), receive_buffer_.end()}};
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
  const std::size_t kept = std::min(state.receive_buffer.size(), kReceiveCapacity);
  receive_buffer_.assign(state.receive_buffer.begin(),
                         state.receive_buffer.begin() + static_cast<std::ptrdiff_t>(kept));
}

}  // namespace nestbox
