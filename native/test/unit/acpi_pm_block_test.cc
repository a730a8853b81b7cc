// The ACPI fixed-hardware block: power button and SCI, S5, reset, PM timer.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>

#include "devices/acpi_pm/acpi_pm_block.h"
#include "support/fake_interrupt_line.h"

using nestbox::AcpiPmBlock;
using nestbox::test::FakeInterruptLine;
namespace pm = nestbox::acpi_pm;
using namespace std::chrono_literals;

namespace {

struct PmFixture {
  std::chrono::steady_clock::time_point now{std::chrono::hours(2)};
  std::shared_ptr<FakeInterruptLine> sci = std::make_shared<FakeInterruptLine>();
  int power_offs = 0;
  int resets = 0;
  std::string notice;
  AcpiPmBlock block{[this] { return now; }, sci,
                    AcpiPmBlock::Callbacks{[this] { ++power_offs; }, [this] { ++resets; },
                                           [this](std::string_view text) { notice = text; }}};

  std::uint16_t in16(std::uint64_t offset) {
    std::array<std::uint8_t, 2> bytes{};
    block.read(offset, bytes);
    return static_cast<std::uint16_t>(bytes[0] | bytes[1] << 8);
  }
  std::uint32_t in32(std::uint64_t offset) {
    std::array<std::uint8_t, 4> bytes{};
    block.read(offset, bytes);
    return static_cast<std::uint32_t>(bytes[0] | bytes[1] << 8 | bytes[2] << 16) |
           static_cast<std::uint32_t>(bytes[3]) << 24;
  }
  void out16(std::uint64_t offset, std::uint16_t value) {
    const std::array<std::uint8_t, 2> bytes{static_cast<std::uint8_t>(value),
                                            static_cast<std::uint8_t>(value >> 8)};
    block.write(offset, bytes);
  }
  void out8(std::uint64_t offset, std::uint8_t value) {
    const std::array<std::uint8_t, 1> bytes{value};
    block.write(offset, bytes);
  }
};

}  // namespace

TEST_CASE_FIXTURE(PmFixture, "pm SCI_EN reads set: ACPI mode from the start") {
  CHECK((in16(pm::kPm1ControlOffset) & pm::kSciEnable) != 0);
  out16(pm::kPm1ControlOffset, 0);
  CHECK((in16(pm::kPm1ControlOffset) & pm::kSciEnable) != 0);
}

TEST_CASE_FIXTURE(PmFixture, "pm power button: status, enable and the SCI level") {
  CHECK_FALSE(block.press_power_button());  // nobody listening yet
  CHECK((in16(pm::kPm1StatusOffset) & pm::kPowerButtonStatus) != 0);
  CHECK_FALSE(sci->level);
  out16(pm::kPm1EnableOffset, pm::kPowerButtonEnable);
  CHECK(sci->level);  // status was already set
  out16(pm::kPm1StatusOffset, pm::kPowerButtonStatus);  // write 1 to clear
  CHECK((in16(pm::kPm1StatusOffset) & pm::kPowerButtonStatus) == 0);
  CHECK_FALSE(sci->level);
  CHECK(block.press_power_button());
  CHECK(sci->level);
  out16(pm::kPm1StatusOffset, 0);  // writing 0 clears nothing
  CHECK(sci->level);
  out8(pm::kPm1StatusOffset + 1, pm::kPowerButtonStatus >> 8);  // a byte write to the high half
  CHECK_FALSE(sci->level);
  CHECK(in16(pm::kPm1EnableOffset) == pm::kPowerButtonEnable);
}

TEST_CASE_FIXTURE(PmFixture, "pm S5 powers off; other sleep types are ignored and wake at once") {
  const auto sleep = [&](unsigned type) {
    out16(pm::kPm1ControlOffset,
          static_cast<std::uint16_t>(type << pm::kSleepTypeShift | pm::kSleepEnable));
  };
  out16(pm::kPm1ControlOffset, static_cast<std::uint16_t>(pm::kS5SleepType << pm::kSleepTypeShift));
  CHECK(power_offs == 0);  // SLP_TYP alone does nothing
  sleep(3);
  CHECK(power_offs == 0);
  CHECK(block.stats().ignored_sleep_requests == 1);
  CHECK(notice.find("sleep type 3") != std::string::npos);
  CHECK((in16(pm::kPm1StatusOffset) & pm::kWakeStatus) != 0);
  CHECK((in16(pm::kPm1ControlOffset) & pm::kSleepEnable) == 0);  // write-only
  sleep(pm::kS5SleepType);
  CHECK(power_offs == 1);
  // ACPICA writes SLP_TYP then SLP_TYP|SLP_EN as 16-bit; a byte write of the high half works too.
  out8(pm::kPm1ControlOffset + 1,
       static_cast<std::uint8_t>((pm::kS5SleepType << pm::kSleepTypeShift | pm::kSleepEnable) >> 8));
  CHECK(power_offs == 2);
}

TEST_CASE_FIXTURE(PmFixture, "pm reset register resets only on RESET_VALUE") {
  out8(pm::kResetOffset, 0x01);
  CHECK(resets == 0);
  out8(pm::kResetOffset, pm::kResetValue);
  CHECK(resets == 1);
}

TEST_CASE_FIXTURE(PmFixture, "pm timer counts at 3.579545 MHz, monotonic, wrapping at 24 bits") {
  const std::uint32_t start = in32(pm::kPmTimerOffset);
  CHECK(start <= pm::kTimerMask);
  now += 1s;
  const std::uint32_t one_second = in32(pm::kPmTimerOffset);
  CHECK(((one_second - start) & pm::kTimerMask) == 3'579'545);
  std::uint32_t previous = one_second;
  for (int i = 0; i < 100; ++i) {
    now += 7ms;
    const std::uint32_t value = in32(pm::kPmTimerOffset);
    CHECK(value <= pm::kTimerMask);
    CHECK(((value - previous) & pm::kTimerMask) > 0);
    previous = value;
  }
  // 2^24 ticks is about 4.69 s: after it the counter wraps to where it was.
  const std::uint32_t before = in32(pm::kPmTimerOffset);
  now += std::chrono::nanoseconds(static_cast<std::int64_t>((1ull << 24) * 1'000'000'000ull / 3'579'545ull) + 1);
  const std::uint32_t after = in32(pm::kPmTimerOffset);
  CHECK(((after - before) & pm::kTimerMask) <= 1);
  // TMR_STS follows bit 23 toggling and clears on write.
  CHECK((in16(pm::kPm1StatusOffset) & pm::kTimerStatus) != 0);
  out16(pm::kPm1StatusOffset, pm::kTimerStatus);
  CHECK((in16(pm::kPm1StatusOffset) & pm::kTimerStatus) == 0);
  CHECK_FALSE(sci->level);  // no TMR_EN SCI
}

TEST_CASE_FIXTURE(PmFixture, "pm GPE0 block reads and keeps its enables; accesses past the block are inert") {
  out16(pm::kGpe0EnableOffset, 0x0003);
  CHECK(in16(pm::kGpe0EnableOffset) == 0x0003);
  CHECK(in16(pm::kGpe0StatusOffset) == 0);
  std::array<std::uint8_t, 8> wide{};
  block.read(pm::kBlockLength - 2, wide);
  CHECK(wide[7] == 0xff);
  block.write(pm::kBlockLength + 100, wide);
  CHECK_FALSE(sci->level);
}

TEST_CASE_FIXTURE(PmFixture, "pm state survives save and restore; the timer continues") {
  out16(pm::kPm1EnableOffset, pm::kPowerButtonEnable);
  block.press_power_button();
  now += 3s;
  const std::uint32_t timer = in32(pm::kPmTimerOffset);
  const nestbox::AcpiPmState saved = block.save();

  std::chrono::steady_clock::time_point later{std::chrono::hours(50)};
  auto line = std::make_shared<FakeInterruptLine>();
  AcpiPmBlock copy([&] { return later; }, line, {});
  copy.restore(saved);
  CHECK(line->level);
  std::array<std::uint8_t, 4> bytes{};
  copy.read(pm::kPmTimerOffset, bytes);
  const std::uint32_t restored = static_cast<std::uint32_t>(bytes[0] | bytes[1] << 8 | bytes[2] << 16) |
                                 static_cast<std::uint32_t>(bytes[3]) << 24;
  CHECK(restored == timer);
}
