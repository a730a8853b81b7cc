// A 16550A-compatible UART as seen through its eight byte-wide registers.
// Transmitted bytes go to an output callback; the transmitter is always ready
// (there is no baud-rate pacing). Interrupt delivery comes with the interrupt
// controller; until then IIR always reports "no interrupt pending".
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "bus/bus_device.h"

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

inline constexpr std::uint8_t kLcrDivisorLatch = 0x80;
inline constexpr std::uint8_t kMcrLoopback = 0x10;
inline constexpr std::uint8_t kLsrDataReady = 0x01;
inline constexpr std::uint8_t kLsrTransmitHoldingEmpty = 0x20;
inline constexpr std::uint8_t kLsrTransmitterEmpty = 0x40;
inline constexpr std::uint8_t kIirNoInterruptPending = 0x01;
inline constexpr std::uint8_t kIirFifosEnabled = 0xc0;
inline constexpr std::uint8_t kFcrEnableFifos = 0x01;
inline constexpr std::uint8_t kFcrClearReceive = 0x02;
// A terminal is attached: carrier detect, data set ready, clear to send.
inline constexpr std::uint8_t kMsrConnected = 0xb0;
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
};

class SerialPort : public BusDevice {
 public:
  using Output = std::function<void(std::span<const std::uint8_t>)>;

  // Room for pasted input before bytes are dropped (no flow control yet).
  static constexpr std::size_t kReceiveCapacity = 4096;

  explicit SerialPort(Output output) : output_(std::move(output)) { restore(SerialPortState{}); }

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Bytes typed at the console, for the guest to read from RBR. Returns how
  // many were accepted.
  std::size_t receive(std::span<const std::uint8_t> bytes);

  [[nodiscard]] SerialPortState save() const;
  void restore(const SerialPortState& state);

 private:
  std::uint8_t read_register(std::uint64_t offset);
  // Returns the byte to transmit, if the write was to THR outside loopback.
  bool write_register(std::uint64_t offset, std::uint8_t value, std::uint8_t& transmitted);
  std::uint8_t modem_status() const;

  Output output_;
  mutable std::mutex mutex_;
  // Initialised from SerialPortState's defaults by the constructor.
  std::uint8_t interrupt_enable_;
  std::uint8_t line_control_;
  std::uint8_t modem_control_;
  std::uint8_t scratch_;
  std::uint8_t divisor_low_;
  std::uint8_t divisor_high_;
  bool fifos_enabled_;
  std::deque<std::uint8_t> receive_buffer_;
};

}  // namespace nestbox
