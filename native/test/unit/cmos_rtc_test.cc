// The CMOS RTC with injected clocks: formats, SET, flags, interrupts, CMOS RAM.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <memory>

#include "devices/rtc/cmos_rtc.h"
#include "support/fake_interrupt_line.h"

using nestbox::CmosRtc;
using nestbox::CmosRtcState;
using nestbox::test::FakeInterruptLine;
namespace rtc = nestbox::rtc;
using namespace std::chrono_literals;

namespace {

// 2024-02-29 23:59:58 UTC, a Thursday.
constexpr std::int64_t kStartEpoch = 1709251198;

struct RtcFixture {
  std::chrono::system_clock::time_point wall{std::chrono::seconds(kStartEpoch)};
  std::chrono::steady_clock::time_point mono{std::chrono::hours(1)};
  std::shared_ptr<FakeInterruptLine> irq = std::make_shared<FakeInterruptLine>();
  int deadline_notifications = 0;
  CmosRtc rtc{[this] { return wall; }, [this] { return mono; }, irq};

  RtcFixture() {
    rtc.set_deadline_changed([this] { ++deadline_notifications; });
  }
  void advance(std::chrono::nanoseconds by) {
    wall += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
    mono += by;
  }
  std::uint8_t get(std::uint8_t index) {
    const std::array<std::uint8_t, 1> i{index};
    rtc.write(rtc::kIndexPort, i);
    std::array<std::uint8_t, 1> value{};
    rtc.read(rtc::kDataPort, value);
    return value[0];
  }
  void set(std::uint8_t index, std::uint8_t value) {
    const std::array<std::uint8_t, 1> i{index};
    rtc.write(rtc::kIndexPort, i);
    const std::array<std::uint8_t, 1> v{value};
    rtc.write(rtc::kDataPort, v);
  }
};

}  // namespace

TEST_CASE_FIXTURE(RtcFixture, "rtc reads the host's UTC time in BCD, 24-hour by default") {
  CHECK(get(rtc::kSeconds) == 0x58);
  CHECK(get(rtc::kMinutes) == 0x59);
  CHECK(get(rtc::kHours) == 0x23);
  CHECK(get(rtc::kDayOfWeek) == 5);  // Thursday; 1 = Sunday
  CHECK(get(rtc::kDayOfMonth) == 0x29);
  CHECK(get(rtc::kMonth) == 0x02);
  CHECK(get(rtc::kYear) == 0x24);
  CHECK(get(rtc::kCentury) == 0x20);
  advance(2s);  // over midnight into 1 March (2024 is a leap year)
  CHECK(get(rtc::kDayOfMonth) == 0x01);
  CHECK(get(rtc::kMonth) == 0x03);
  CHECK(get(rtc::kHours) == 0x00);
  CHECK(get(rtc::kRegisterD) == rtc::kDValidRam);
}

TEST_CASE_FIXTURE(RtcFixture, "rtc binary mode and 12-hour mode") {
  set(rtc::kRegisterB, rtc::kBBinary | rtc::kB24Hour);
  CHECK(get(rtc::kSeconds) == 58);
  CHECK(get(rtc::kHours) == 23);
  CHECK(get(rtc::kYear) == 24);
  set(rtc::kRegisterB, rtc::kBBinary);  // 12-hour
  CHECK(get(rtc::kHours) == (11 | rtc::kHourPm));
  set(rtc::kRegisterB, 0);  // BCD, 12-hour
  CHECK(get(rtc::kHours) == (0x11 | rtc::kHourPm));
  advance(2s);  // midnight is 12 AM
  CHECK(get(rtc::kHours) == 0x12);
}

TEST_CASE_FIXTURE(RtcFixture, "rtc SET freezes the clock; clearing it sets a guest offset, not the host") {
  set(rtc::kRegisterB, rtc::kBSet | rtc::kB24Hour | rtc::kBUpdateEnable);
  CHECK((get(rtc::kRegisterB) & rtc::kBUpdateEnable) == 0);  // SET clears UIE
  advance(5s);
  CHECK(get(rtc::kSeconds) == 0x58);  // frozen
  set(rtc::kYear, 0x30);
  set(rtc::kMonth, 0x06);
  set(rtc::kDayOfMonth, 0x15);
  set(rtc::kHours, 0x12);
  set(rtc::kMinutes, 0x00);
  set(rtc::kSeconds, 0x00);
  CHECK((get(rtc::kRegisterA) & rtc::kAUpdateInProgress) == 0);
  set(rtc::kRegisterB, rtc::kB24Hour);
  CHECK(get(rtc::kYear) == 0x30);
  CHECK(get(rtc::kMonth) == 0x06);
  CHECK(get(rtc::kHours) == 0x12);
  advance(61s);
  CHECK(get(rtc::kMinutes) == 0x01);
  CHECK(get(rtc::kSeconds) == 0x01);
  CHECK(rtc.save().offset_seconds != 0);
}

TEST_CASE_FIXTURE(RtcFixture, "rtc a single clock write while running moves only that field") {
  set(rtc::kMinutes, 0x10);
  CHECK(get(rtc::kMinutes) == 0x10);
  CHECK(get(rtc::kHours) == 0x23);
  CHECK(get(rtc::kSeconds) == 0x58);
}

TEST_CASE_FIXTURE(RtcFixture, "rtc UIP shows only in the last 244 us before an update") {
  CHECK((get(rtc::kRegisterA) & rtc::kAUpdateInProgress) == 0);
  advance(1s - 100us);
  CHECK((get(rtc::kRegisterA) & rtc::kAUpdateInProgress) != 0);
  advance(200us);
  CHECK((get(rtc::kRegisterA) & rtc::kAUpdateInProgress) == 0);
  CHECK((get(rtc::kRegisterA) & 0x7f) == 0x26);  // divider and 1024 Hz rate
}

TEST_CASE_FIXTURE(RtcFixture, "rtc register C reports update and alarm flags and clears on read") {
  // PF runs at register A's rate whether or not PIE is set; mask it here.
  const auto flags = [&] { return get(rtc::kRegisterC) & ~rtc::kCPeriodic; };
  CHECK(flags() == 0);
  advance(1s);
  CHECK(flags() == rtc::kCUpdate);  // no interrupt enabled: no IRQF
  CHECK(flags() == 0);
  set(rtc::kSecondsAlarm, 0x05);
  set(rtc::kMinutesAlarm, rtc::kAlarmDontCare);
  set(rtc::kHoursAlarm, rtc::kAlarmDontCare);
  set(rtc::kRegisterB, rtc::kB24Hour | rtc::kBAlarmEnable);
  advance(5s);  // 00:00:04
  CHECK(flags() == rtc::kCUpdate);
  advance(1s);  // 00:00:05
  CHECK(flags() == (rtc::kCIrq | rtc::kCAlarm | rtc::kCUpdate));
}

TEST_CASE_FIXTURE(RtcFixture, "rtc update interrupt comes from tick() at next_deadline()") {
  CHECK_FALSE(rtc.next_deadline().has_value());
  advance(500ms);
  const int before = deadline_notifications;
  set(rtc::kRegisterB, rtc::kB24Hour | rtc::kBUpdateEnable);
  CHECK(deadline_notifications > before);
  const auto deadline = rtc.next_deadline();
  REQUIRE(deadline.has_value());
  CHECK(*deadline == mono + 500ms);
  rtc.tick(mono);
  CHECK(irq->pulses == 0);  // not yet
  advance(500ms);
  rtc.tick(mono);
  CHECK(irq->pulses == 1);
  CHECK_FALSE(rtc.next_deadline().has_value());  // IRQF stays up until C is read
  advance(1s);
  rtc.tick(mono);
  CHECK(irq->pulses == 1);
  CHECK((get(rtc::kRegisterC) & (rtc::kCIrq | rtc::kCUpdate)) == (rtc::kCIrq | rtc::kCUpdate));
  CHECK(rtc.next_deadline().has_value());
}

TEST_CASE_FIXTURE(RtcFixture, "rtc periodic interrupt at the register A rate") {
  set(rtc::kRegisterA, rtc::kADividerNormal | 0x0f);  // 2 Hz
  set(rtc::kRegisterB, rtc::kB24Hour | rtc::kBPeriodicEnable);
  const auto deadline = rtc.next_deadline();
  REQUIRE(deadline.has_value());
  CHECK(*deadline == mono + 500ms);
  advance(500ms);
  rtc.tick(mono);
  CHECK(irq->pulses == 1);
  CHECK((get(rtc::kRegisterC) & rtc::kCPeriodic) != 0);
  CHECK(*rtc.next_deadline() == mono + 500ms);
  set(rtc::kRegisterA, rtc::kADividerNormal);  // rate 0: off
  CHECK_FALSE(rtc.next_deadline().has_value());
}

TEST_CASE_FIXTURE(RtcFixture, "rtc memory-size bytes and checksum") {
  rtc.set_memory_size(3ull << 30, 5ull << 30);
  CHECK((get(0x15) | get(0x16) << 8) == 640);
  CHECK((get(0x17) | get(0x18) << 8) == 0xfc00);
  CHECK((get(0x30) | get(0x31) << 8) == 0xfc00);
  CHECK((get(0x34) | get(0x35) << 8) == ((3ull << 30) - (16ull << 20)) / 65536);
  CHECK((get(0x5b) | get(0x5c) << 8 | get(0x5d) << 16) == (5ull << 30) / 65536);
  unsigned sum = 0;
  for (std::uint8_t i = 0x10; i <= 0x2d; ++i) sum += get(i);
  CHECK(((get(0x2e) << 8) | get(0x2f)) == (sum & 0xffff));
  rtc.set_memory_size(32ull << 20, 0);
  CHECK((get(0x17) | get(0x18) << 8) == 31 * 1024);
  CHECK((get(0x34) | get(0x35) << 8) == 256);
}

TEST_CASE_FIXTURE(RtcFixture, "rtc guest indexes stay inside the 128 bytes; bit 7 is NMI disable") {
  const std::array<std::uint8_t, 1> index{0xff};
  rtc.write(rtc::kIndexPort, index);
  CHECK(rtc.nmi_disabled());
  const std::array<std::uint8_t, 1> value{0x77};
  rtc.write(rtc::kDataPort, value);  // lands in byte 0x7f
  CHECK(get(0x7f) == 0x77);
  CHECK_FALSE(rtc.nmi_disabled());
  std::array<std::uint8_t, 4> wide{};
  rtc.read(0, wide);  // index, data, then beyond the two ports
  CHECK(wide[2] == 0xff);
  CHECK(wide[3] == 0xff);
  set(rtc::kRegisterC, 0xff);  // read-only
  set(rtc::kRegisterD, 0x00);
  CHECK(get(rtc::kRegisterD) == rtc::kDValidRam);
  // Garbage in the clock registers is clamped, never undefined.
  set(rtc::kRegisterB, rtc::kBSet | rtc::kB24Hour);
  for (std::uint8_t i : {rtc::kSeconds, rtc::kMinutes, rtc::kHours, rtc::kDayOfMonth, rtc::kMonth,
                         rtc::kYear, rtc::kCentury}) {
    set(i, 0xff);
  }
  set(rtc::kRegisterB, rtc::kB24Hour);
  CHECK(get(rtc::kMonth) <= 0x12);
}

TEST_CASE_FIXTURE(RtcFixture, "rtc state survives save and restore, offset and CMOS included") {
  set(rtc::kHours, 0x05);
  set(0x40, 0xab);
  set(rtc::kRegisterA, rtc::kADividerNormal | 0x0f);
  set(rtc::kRegisterB, rtc::kB24Hour | rtc::kBPeriodicEnable);
  advance(100ms);
  const CmosRtcState saved = rtc.save();
  CHECK(saved.periodic_remaining_ns == 400'000'000);

  std::chrono::system_clock::time_point wall2 = wall;
  std::chrono::steady_clock::time_point mono2{std::chrono::hours(7)};
  CmosRtc copy{[&] { return wall2; }, [&] { return mono2; }};
  copy.restore(saved);
  const auto read = [&](std::uint8_t index) {
    const std::array<std::uint8_t, 1> i{index};
    copy.write(rtc::kIndexPort, i);
    std::array<std::uint8_t, 1> value{};
    copy.read(rtc::kDataPort, value);
    return value[0];
  };
  CHECK(read(rtc::kHours) == 0x05);
  CHECK(read(0x40) == 0xab);
  REQUIRE(copy.next_deadline().has_value());
  CHECK(*copy.next_deadline() == mono2 + 400ms);
}
