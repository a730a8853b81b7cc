// The 16550A's interrupt behaviour, FIFO and the probes Linux's 8250 driver
// runs, through the BusDevice interface with a recording interrupt line.
#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "devices/serial/serial_port.h"
#include "support/fake_interrupt_line.h"

using nestbox::SerialPort;
using nestbox::SerialPortState;
using nestbox::test::FakeInterruptLine;
namespace uart = nestbox::uart;

namespace {

struct UartFixture {
  std::string output;
  std::shared_ptr<FakeInterruptLine> irq = std::make_shared<FakeInterruptLine>();
  SerialPort port{[this](std::span<const std::uint8_t> bytes) {
                    output.append(bytes.begin(), bytes.end());
                  },
                  irq};

  std::uint8_t in(std::uint64_t offset) {
    std::array<std::uint8_t, 1> byte{};
    port.read(offset, byte);
    return byte[0];
  }
  void out(std::uint64_t offset, std::uint8_t value) {
    const std::array<std::uint8_t, 1> byte{value};
    port.write(offset, byte);
  }
  void receive(const std::string& text) {
    const std::vector<std::uint8_t> bytes(text.begin(), text.end());
    port.receive(bytes);
  }
  std::uint8_t iir_cause() { return in(uart::kInterruptIdent) & 0x0f; }
};

}  // namespace

TEST_CASE_FIXTURE(UartFixture, "uart THRE: raised by enabling it, cleared by reading IIR, re-raised by THR writes") {
  CHECK(iir_cause() == uart::kIirNoInterruptPending);
  CHECK_FALSE(irq->level);
  out(uart::kInterruptEnable, uart::kIerTransmitEmpty);
  CHECK(irq->level);  // OUT2 is set by default
  CHECK(iir_cause() == uart::kIirTransmitEmpty);
  CHECK_FALSE(irq->level);  // that IIR read acknowledged it
  CHECK(iir_cause() == uart::kIirNoInterruptPending);
  out(uart::kData, 'a');  // THR empties at once: THRE again
  CHECK(irq->level);
  CHECK(output == "a");
  out(uart::kInterruptEnable, 0);
  CHECK_FALSE(irq->level);
  CHECK(iir_cause() == uart::kIirNoInterruptPending);
}

TEST_CASE_FIXTURE(UartFixture, "uart passes Linux's THRE re-assert test (no UART_BUG_THRE)") {
  out(uart::kInterruptEnable, uart::kIerTransmitEmpty);
  const std::uint8_t iir1 = in(uart::kInterruptIdent);
  out(uart::kInterruptEnable, 0);
  out(uart::kInterruptEnable, uart::kIerTransmitEmpty);
  const std::uint8_t iir = in(uart::kInterruptIdent);
  out(uart::kInterruptEnable, 0);
  CHECK((iir1 & uart::kIirNoInterruptPending) == 0);
  CHECK((iir & uart::kIirNoInterruptPending) == 0);
}

TEST_CASE_FIXTURE(UartFixture, "uart IIR reports causes in 16550A priority order") {
  out(uart::kInterruptEnable, 0x0f);
  // THRE pending from enabling it; now add received data and a line error.
  out(uart::kModemControl, uart::kMcrOut2 | uart::kMcrLoopback | 0x02);  // RTS changes CTS: MSI
  for (int i = 0; i < static_cast<int>(SerialPort::kReceiveCapacity) + 1; ++i) {
    out(uart::kData, 'x');  // loopback fills the receiver and overruns it
  }
  CHECK(iir_cause() == uart::kIirLineStatus);
  CHECK((in(uart::kLineStatus) & uart::kLsrOverrun) != 0);  // reading LSR clears it
  CHECK((in(uart::kLineStatus) & uart::kLsrOverrun) == 0);
  CHECK(iir_cause() == uart::kIirReceivedData);
  out(uart::kInterruptIdent, uart::kFcrEnableFifos | uart::kFcrClearReceive);
  CHECK(iir_cause() == uart::kIirTransmitEmpty);
  CHECK(iir_cause() == uart::kIirModemStatus);  // THRE was acknowledged by that read
  CHECK((in(uart::kModemStatus) & uart::kMsrDeltas) != 0);
  CHECK(iir_cause() == uart::kIirNoInterruptPending);
}

TEST_CASE_FIXTURE(UartFixture, "uart receive raises RDA; reading the data lowers it") {
  out(uart::kInterruptEnable, uart::kIerReceivedData);
  CHECK_FALSE(irq->level);
  receive("hi");
  CHECK(irq->level);
  CHECK(iir_cause() == uart::kIirReceivedData);
  CHECK(in(uart::kData) == 'h');
  CHECK(irq->level);
  CHECK(in(uart::kData) == 'i');
  CHECK_FALSE(irq->level);
  CHECK(iir_cause() == uart::kIirNoInterruptPending);
}

TEST_CASE_FIXTURE(UartFixture, "uart FIFO trigger level: below it a character timeout, at it RDA") {
  out(uart::kInterruptEnable, uart::kIerReceivedData);
  out(uart::kInterruptIdent, uart::kFcrEnableFifos | 0x80);  // trigger at 8 bytes
  CHECK((in(uart::kInterruptIdent) & uart::kIirFifosEnabled) == uart::kIirFifosEnabled);
  receive("1234567");
  CHECK(iir_cause() == uart::kIirCharacterTimeout);
  receive("8");
  CHECK(iir_cause() == uart::kIirReceivedData);
  in(uart::kData);
  CHECK(iir_cause() == uart::kIirCharacterTimeout);
  for (const auto& [fcr, level] : std::vector<std::pair<std::uint8_t, int>>{
           {0x00, 1}, {0x40, 4}, {0x80, 8}, {0xc0, 14}}) {
    out(uart::kInterruptIdent, uart::kFcrEnableFifos | uart::kFcrClearReceive | fcr);
    receive(std::string(static_cast<std::size_t>(level - 1), 'z'));
    if (level > 1) {
      CHECK(iir_cause() == uart::kIirCharacterTimeout);
    }
    receive("z");
    CHECK(iir_cause() == uart::kIirReceivedData);
  }
}

TEST_CASE_FIXTURE(UartFixture, "uart OUT2 gates the IRQ wire, and loopback disconnects it") {
  out(uart::kInterruptEnable, uart::kIerTransmitEmpty);
  CHECK(irq->level);
  out(uart::kModemControl, 0x03);  // DTR, RTS, no OUT2
  CHECK_FALSE(irq->level);
  out(uart::kModemControl, uart::kMcrOut2 | uart::kMcrLoopback);
  CHECK_FALSE(irq->level);
  out(uart::kModemControl, uart::kMcrOut2);
  CHECK(irq->level);
}

TEST_CASE_FIXTURE(UartFixture, "uart host input beyond capacity is an overrun") {
  const std::vector<std::uint8_t> flood(SerialPort::kReceiveCapacity + 3, 'q');
  CHECK(port.receive(flood) == SerialPort::kReceiveCapacity);
  CHECK((in(uart::kLineStatus) & (uart::kLsrOverrun | uart::kLsrDataReady)) ==
        (uart::kLsrOverrun | uart::kLsrDataReady));
}

TEST_CASE_FIXTURE(UartFixture, "uart passes Linux 8250 autoconfig as a 16550A") {
  // Scratch/IER test.
  out(uart::kInterruptEnable, 0);
  const std::uint8_t scratch2 = in(uart::kInterruptEnable) & 0x0f;
  out(uart::kInterruptEnable, 0x0f);
  const std::uint8_t scratch3 = in(uart::kInterruptEnable) & 0x0f;
  out(uart::kInterruptEnable, 0);
  CHECK(scratch2 == 0);
  CHECK(scratch3 == 0x0f);
  // Loopback test: MCR = LOOP | RTS | OUT2 must read back CTS | DCD.
  const std::uint8_t save_mcr = in(uart::kModemControl);
  out(uart::kModemControl, uart::kMcrLoopback | 0x0a);
  CHECK((in(uart::kModemStatus) & 0xf0) == 0x90);
  out(uart::kModemControl, save_mcr);
  // FIFO type: EFR write at LCR 0xBF lands in FCR, then FIFOs on: IIR bits 7:6 = 3.
  out(uart::kLineControl, 0xbf);
  out(uart::kInterruptIdent, 0);
  out(uart::kLineControl, 0);
  out(uart::kInterruptIdent, uart::kFcrEnableFifos);
  CHECK((in(uart::kInterruptIdent) >> 6) == 3);
  // Not a 16750: the 64-byte FIFO bit never shows.
  out(uart::kInterruptIdent, uart::kFcrEnableFifos | 0x20);
  CHECK((in(uart::kInterruptIdent) & 0x20) == 0);
  out(uart::kLineControl, 0x80);
  out(uart::kInterruptIdent, uart::kFcrEnableFifos | 0x20);
  CHECK((in(uart::kInterruptIdent) & 0x20) == 0);
  out(uart::kLineControl, 0x03);
  // Scratch register survives.
  out(uart::kScratch, 0xa5);
  CHECK(in(uart::kScratch) == 0xa5);
  // Loopback data path.
  out(uart::kModemControl, uart::kMcrLoopback);
  out(uart::kData, 0x55);
  CHECK((in(uart::kLineStatus) & uart::kLsrDataReady) != 0);
  CHECK(in(uart::kData) == 0x55);
  CHECK(in(uart::kLineStatus) != 0xff);  // "no UART here" is LSR == 0xff
  CHECK(output.empty());
}

TEST_CASE_FIXTURE(UartFixture, "uart interrupt state survives save and restore") {
  out(uart::kInterruptEnable, uart::kIerReceivedData | uart::kIerLineStatus | uart::kIerTransmitEmpty);
  out(uart::kInterruptIdent, uart::kFcrEnableFifos | 0x40);
  receive("ab");
  const SerialPortState saved = port.save();
  CHECK(saved.fifo_trigger == 0x40);
  CHECK(saved.transmit_empty_pending);

  auto line = std::make_shared<FakeInterruptLine>();
  SerialPort copy([](std::span<const std::uint8_t>) {}, line);
  copy.restore(saved);
  CHECK(line->level);  // restore drives the wire
  CHECK(copy.save().receive_buffer == saved.receive_buffer);
  std::array<std::uint8_t, 1> byte{};
  copy.read(uart::kInterruptIdent, byte);
  CHECK((byte[0] & 0x0f) == uart::kIirCharacterTimeout);  // 2 bytes below the trigger of 4
  CHECK((byte[0] & uart::kIirFifosEnabled) == uart::kIirFifosEnabled);
}
