// A 16550A-compatible UART as seen through its eight byte-wide registers.
//
// Integration (COM1): port I/O 0x3f8, 8 ports, ISA IRQ 4 (edge on the IOAPIC,
// but the UART drives a level: the line is high while an enabled cause is
// pending and MCR.OUT2 is set, as on a PC where OUT2 gates the IRQ wire).
//   auto com1 = std::make_shared<SerialPort>(output, irq4_line);
//   port_bus.attach(0x3f8, uart::kRegisterCount, com1);
// Host console input goes through `receive()` (any thread). Nothing to call
// from the I/O loop: the character timeout is approximated without a timer.
//
// Transmitted bytes go to the output callback; the transmitter is always
// ready (no baud-rate pacing), so THR is empty again right after each write.
// The receive FIFO holds up to kReceiveCapacity bytes: a real 16550A holds 16,
// but console pastes need more and we have no flow control yet.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "bus/bus_device.h"
#include "devices/interrupt_line.h"

namespace nestbox {

// Register offsets from the port base (COM1: 0x3f8).
namespace uart {
inline constexpr std::uint64_t kData = 0;               // RBR (read) / THR (write); DLL with DLAB
inline constexpr std::uint64_t kInterruptEnable = 1;    // IER; DLM with DLAB
inline constexpr std::uint64_t kInterruptIdent = 2;     // IIR (read) / FCR (write)
inline constexpr std::uint64_t kLineControl = 3;        // LCR
inline constexpr std::uint64_t kModemControl = 4;       // MCR
inline constexpr std::uint64_t kLineStatus = 5;         // LSR
inline constexpr std::uint64_t kModemStatus = 6;        // MSR
inline constexpr std::uint64_t kScratch = 7;            // SCR
inline constexpr std::uint64_t kRegisterCount = 8;

inline constexpr std::uint8_t kIerReceivedData = 0x01;     // ERBFI
inline constexpr std::uint8_t kIerTransmitEmpty = 0x02;    // ETBEI
inline constexpr std::uint8_t kIerLineStatus = 0x04;       // ELSI
inline constexpr std::uint8_t kIerModemStatus = 0x08;      // EDSSI

inline constexpr std::uint8_t kLcrDivisorLatch = 0x80;
inline constexpr std::uint8_t kMcrOut2 = 0x08;
inline constexpr std::uint8_t kMcrLoopback = 0x10;
inline constexpr std::uint8_t kLsrDataReady = 0x01;
inline constexpr std::uint8_t kLsrOverrun = 0x02;
inline constexpr std::uint8_t kLsrErrors = 0x1e;  // overrun, parity, framing, break
inline constexpr std::uint8_t kLsrTransmitHoldingEmpty = 0x20;
inline constexpr std::uint8_t kLsrTransmitterEmpty = 0x40;

// IIR: bit 0 clear when an interrupt is pending; bits 3:1 say which.
inline constexpr std::uint8_t kIirNoInterruptPending = 0x01;
inline constexpr std::uint8_t kIirModemStatus = 0x00;
inline constexpr std::uint8_t kIirTransmitEmpty = 0x02;
inline constexpr std::uint8_t kIirReceivedData = 0x04;
inline constexpr std::uint8_t kIirLineStatus = 0x06;
inline constexpr std::uint8_t kIirCharacterTimeout = 0x0c;
inline constexpr std::uint8_t kIirFifosEnabled = 0xc0;

inline constexpr std::uint8_t kFcrEnableFifos = 0x01;
inline constexpr std::uint8_t kFcrClearReceive = 0x02;
inline constexpr std::uint8_t kFcrClearTransmit = 0x04;
inline constexpr std::uint8_t kFcrTriggerMask = 0xc0;  // 1, 4, 8 or 14 bytes

// A terminal is attached: carrier detect, data set ready, clear to send.
inline constexpr std::uint8_t kMsrConnected = 0xb0;
inline constexpr std::uint8_t kMsrDeltas = 0x0f;  // DCTS, DDSR, TERI, DDCD
}  // namespace uart

// The guest-visible state, for save/restore.
struct SerialPortState {
  std::uint8_t interrupt_enable = 0;
  std::uint8_t line_control = 0x03;  // 8N1, what firmware leaves behind
  std::uint8_t modem_control = 0x08; // OUT2
  std::uint8_t scratch = 0;
  std::uint8_t divisor_low = 0x0c;   // 9600 baud
  std::uint8_t divisor_high = 0;
  bool fifos_enabled = false;
  std::vector<std::uint8_t> receive_buffer;
  std::uint8_t fifo_trigger = 0;         // FCR bits 7:6
  std::uint8_t line_status_errors = 0;   // sticky LSR error bits, cleared by reading LSR
  std::uint8_t modem_status_deltas = 0;  // MSR bits 3:0, cleared by reading MSR
  bool transmit_empty_pending = false;   // the THRE interrupt cause
};

class SerialPort : public BusDevice {
 public:
  using Output = std::function<void(std::span<const std::uint8_t>)>;

  // Room for pasted input before bytes are dropped (no flow control yet).
  static constexpr std::size_t kReceiveCapacity = 4096;

  // `irq` may be null when nobody listens (tests, a port used only polled).
  explicit SerialPort(Output output, std::shared_ptr<InterruptLine> irq = nullptr)
      : output_(std::move(output)), irq_(std::move(irq)) {
    restore(SerialPortState{});
  }

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Bytes typed at the console, for the guest to read from RBR. Returns how
  // many were accepted; the rest were lost to the guest, which sees an
  // overrun in LSR, like a real UART whose FIFO was full.
  std::size_t receive(std::span<const std::uint8_t> bytes);

  [[nodiscard]] SerialPortState save() const;
  // Also drives the interrupt line to the restored level.
  void restore(const SerialPortState& state);

 private:
  std::uint8_t read_register(std::uint64_t offset);
  // Returns the byte to transmit, if the write was to THR outside loopback.
  bool write_register(std::uint64_t offset, std::uint8_t value, std::uint8_t& transmitted);
  void write_modem_control(std::uint8_t value);
  // MSR bits 7:4 as the modem inputs are now (from MCR in loopback).
  std::uint8_t modem_inputs() const;
  void push_received(std::uint8_t byte);
  std::size_t trigger_level() const;
  // The highest-priority pending cause, as IIR bits 3:0.
  std::uint8_t pending_interrupt() const;
  void update_interrupt_line();

  Output output_;
  std::shared_ptr<InterruptLine> irq_;
  mutable std::mutex mutex_;
  // Initialised from SerialPortState's defaults by the constructor.
  std::uint8_t interrupt_enable_;
  std::uint8_t line_control_;
  std::uint8_t modem_control_;
  std::uint8_t scratch_;
  std::uint8_t divisor_low_;
  std::uint8_t divisor_high_;
  bool fifos_enabled_;
  std::uint8_t fifo_trigger_;
  std::uint8_t line_status_errors_;
  std::uint8_t modem_status_deltas_;
  bool transmit_empty_pending_;
  std::deque<std::uint8_t> receive_buffer_;
  bool irq_level_ = false;
};

}  // namespace nestbox
