#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "devices/serial/serial_port.h"

using nestbox::SerialPort;
namespace uart = nestbox::uart;

namespace {

struct SerialFixture {
  std::string output;
  SerialPort port{[this](std::span<const std::uint8_t> bytes) {
    output.append(bytes.begin(), bytes.end());
  }};

  std::uint8_t in(std::uint64_t offset) {
    std::array<std::uint8_t, 1> byte{};
    port.read(offset, byte);
    return byte[0];
  }
  void out(std::uint64_t offset, std::uint8_t value) {
    const std::array<std::uint8_t, 1> byte{value};
    port.write(offset, byte);
  }
};

}  // namespace

TEST_CASE_FIXTURE(SerialFixture, "serial THR writes become output bytes") {
  for (char c : std::string("Hello\n")) {
    out(uart::kData, static_cast<std::uint8_t>(c));
  }
  CHECK(output == "Hello\n");
}

TEST_CASE_FIXTURE(SerialFixture, "serial LSR always reports the transmitter empty") {
  const std::uint8_t lsr = in(uart::kLineStatus);
  CHECK((lsr & uart::kLsrTransmitHoldingEmpty) != 0);
  CHECK((lsr & uart::kLsrTransmitterEmpty) != 0);
  CHECK((lsr & uart::kLsrDataReady) == 0);
  out(uart::kData, 'x');
  CHECK(in(uart::kLineStatus) == lsr);  // still ready right after a write
}

TEST_CASE_FIXTURE(SerialFixture, "serial divisor latch redirects data and IER to the divisor") {
  out(uart::kLineControl, 0x83);  // DLAB + 8N1
  out(uart::kData, 0x01);         // 115200 baud
  out(uart::kInterruptEnable, 0x00);
  CHECK(output.empty());  // a divisor write is not a character
  CHECK(in(uart::kData) == 0x01);
  out(uart::kLineControl, 0x03);
  out(uart::kInterruptEnable, 0xff);
  CHECK(in(uart::kInterruptEnable) == 0x0f);  // only four IER bits exist
  CHECK(in(uart::kLineControl) == 0x03);
  const nestbox::SerialPortState state = port.save();
  CHECK(state.divisor_low == 0x01);
  CHECK(state.divisor_high == 0x00);
}

TEST_CASE_FIXTURE(SerialFixture, "serial scratch register, IIR and modem status") {
  out(uart::kScratch, 0x5a);
  CHECK(in(uart::kScratch) == 0x5a);
  CHECK(in(uart::kInterruptIdent) == uart::kIirNoInterruptPending);
  out(uart::kInterruptIdent, uart::kFcrEnableFifos);
  CHECK(in(uart::kInterruptIdent) == (uart::kIirNoInterruptPending | uart::kIirFifosEnabled));
  CHECK(in(uart::kModemStatus) == uart::kMsrConnected);
}

TEST_CASE_FIXTURE(SerialFixture, "serial loopback returns sent bytes as input, not output") {
  out(uart::kModemControl, uart::kMcrLoopback | 0x0b);  // loopback, DTR, RTS, OUT2
  CHECK(in(uart::kModemStatus) == 0xb0);                // DSR, CTS, DCD
  out(uart::kData, 'q');
  CHECK(output.empty());
  CHECK((in(uart::kLineStatus) & uart::kLsrDataReady) != 0);
  CHECK(in(uart::kData) == 'q');
  CHECK((in(uart::kLineStatus) & uart::kLsrDataReady) == 0);
  CHECK(in(uart::kData) == 0);  // empty receiver reads 0
}

TEST_CASE_FIXTURE(SerialFixture, "serial received bytes are read in order, bounded") {
  const std::vector<std::uint8_t> typed{'l', 's', '\n'};
  CHECK(port.receive(typed) == 3);
  CHECK(in(uart::kData) == 'l');
  CHECK(in(uart::kData) == 's');
  CHECK(in(uart::kData) == '\n');
  const std::vector<std::uint8_t> flood(SerialPort::kReceiveCapacity + 10, 'z');
  CHECK(port.receive(flood) == SerialPort::kReceiveCapacity);
}

TEST_CASE_FIXTURE(SerialFixture, "serial state survives save and restore") {
  out(uart::kScratch, 0x42);
  out(uart::kLineControl, 0x1b);
  const std::vector<std::uint8_t> typed{'a'};
  port.receive(typed);
  const nestbox::SerialPortState saved = port.save();

  SerialPort copy([](std::span<const std::uint8_t>) {});
  copy.restore(saved);
  std::array<std::uint8_t, 1> byte{};
  copy.read(uart::kScratch, byte);
  CHECK(byte[0] == 0x42);
  copy.read(uart::kLineControl, byte);
  CHECK(byte[0] == 0x1b);
  copy.read(uart::kData, byte);
  CHECK(byte[0] == 'a');
}

TEST_CASE_FIXTURE(SerialFixture, "serial wide accesses touch consecutive registers") {
  const std::array<std::uint8_t, 2> pair{'A', 0x05};  // THR, then IER
  port.write(uart::kData, pair);
  CHECK(output == "A");
  CHECK(in(uart::kInterruptEnable) == 0x05);
  std::array<std::uint8_t, 2> beyond{};
  port.read(7, beyond);  // SCR, then past the last register
  CHECK(beyond[1] == 0xff);
}
