// The PC's MC146818-compatible real-time clock and its 128 bytes of CMOS RAM.
//
// Integration: port I/O 0x70 (index; bit 7 = NMI disable) and 0x71 (data):
//   auto rtc = std::make_shared<CmosRtc>(host_wall_clock(), host_monotonic_clock(), irq8);
//   rtc->set_memory_size(ram_below_4g, ram_above_4g);
//   rtc->set_deadline_changed([&] { wake_io_loop(); });   // before vCPUs run
//   port_bus.attach(0x70, rtc::kPortCount, rtc);
// IRQ 8 (ISA, edge): the device calls `pulse()` when IRQF rises in register C
// (periodic, alarm or update-ended interrupt enabled in register B). Those
// interrupts need time to pass without guest activity, so the I/O loop keeps
// a timer at `next_deadline()` and calls `tick(now)` when it expires; after
// `deadline_changed` fires (from a vCPU thread, outside the device's lock) it
// re-reads `next_deadline()`. No thread per device.
//
// The guest clock is the host's UTC time plus an offset: a guest that sets
// the clock moves only its own offset, never the host's clock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "bus/bus_device.h"
#include "devices/device_clock.h"
#include "devices/interrupt_line.h"

namespace nestbox {

namespace rtc {
inline constexpr std::uint64_t kIndexPort = 0;  // 0x70
inline constexpr std::uint64_t kDataPort = 1;   // 0x71
inline constexpr std::uint64_t kPortCount = 2;
inline constexpr std::uint8_t kIndexMask = 0x7f;
inline constexpr std::uint8_t kNmiDisable = 0x80;
inline constexpr std::size_t kCmosSize = 128;

inline constexpr std::uint8_t kSeconds = 0x00;
inline constexpr std::uint8_t kSecondsAlarm = 0x01;
inline constexpr std::uint8_t kMinutes = 0x02;
inline constexpr std::uint8_t kMinutesAlarm = 0x03;
inline constexpr std::uint8_t kHours = 0x04;
inline constexpr std::uint8_t kHoursAlarm = 0x05;
inline constexpr std::uint8_t kDayOfWeek = 0x06;  // 1 = Sunday
inline constexpr std::uint8_t kDayOfMonth = 0x07;
inline constexpr std::uint8_t kMonth = 0x08;
inline constexpr std::uint8_t kYear = 0x09;
inline constexpr std::uint8_t kRegisterA = 0x0a;
inline constexpr std::uint8_t kRegisterB = 0x0b;
inline constexpr std::uint8_t kRegisterC = 0x0c;
inline constexpr std::uint8_t kRegisterD = 0x0d;
inline constexpr std::uint8_t kCentury = 0x32;  // named by the FADT's CENTURY field

// Register A
inline constexpr std::uint8_t kAUpdateInProgress = 0x80;
inline constexpr std::uint8_t kADividerMask = 0x70;
inline constexpr std::uint8_t kADividerNormal = 0x20;  // 32.768 kHz time base running
inline constexpr std::uint8_t kARateMask = 0x0f;
// Register B
inline constexpr std::uint8_t kBSet = 0x80;
inline constexpr std::uint8_t kBPeriodicEnable = 0x40;
inline constexpr std::uint8_t kBAlarmEnable = 0x20;
inline constexpr std::uint8_t kBUpdateEnable = 0x10;
inline constexpr std::uint8_t kBBinary = 0x04;  // DM: binary instead of BCD
inline constexpr std::uint8_t kB24Hour = 0x02;
// Register C
inline constexpr std::uint8_t kCIrq = 0x80;
inline constexpr std::uint8_t kCPeriodic = 0x40;
inline constexpr std::uint8_t kCAlarm = 0x20;
inline constexpr std::uint8_t kCUpdate = 0x10;
// Register D
inline constexpr std::uint8_t kDValidRam = 0x80;
inline constexpr std::uint8_t kHourPm = 0x80;  // in 12-hour mode
inline constexpr std::uint8_t kAlarmDontCare = 0xc0;

// UIP is set this long before each update, as on the MC146818 (244 µs).
inline constexpr std::chrono::microseconds kUpdateInProgressWindow{244};
}  // namespace rtc

// The guest-visible state, for save/restore. Times are kept relative so a
// restore on another host (or later) resumes with the same guest offset.
struct CmosRtcState {
  // CMOS RAM and registers A/B/alarms. The clock bytes (0x00-0x09 and the
  // century) are meaningful only while register B's SET bit freezes the clock.
  std::array<std::uint8_t, rtc::kCmosSize> cmos{};
  std::uint8_t index = 0;
  bool nmi_disabled = false;
  std::int64_t offset_seconds = 0;      // guest clock minus host clock
  std::uint8_t flags = 0;               // register C
  std::int64_t last_update_second = 0;  // guest second whose update UF/AF already reflect
  std::int64_t periodic_remaining_ns = -1;  // until the next periodic flag; -1: not running
};

class CmosRtc : public BusDevice {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  CmosRtc(WallClock wall_clock, MonotonicClock monotonic_clock,
          std::shared_ptr<InterruptLine> irq = nullptr);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Fills the memory-size bytes (and the checksum over 0x10-0x2d) firmware
  // and old kernels read: 0x15-0x18/0x30-0x31 in KiB, 0x34-0x35 above 16 MiB
  // and 0x5b-0x5d above 4 GiB in 64 KiB units.
  void set_memory_size(std::uint64_t below_4g, std::uint64_t above_4g);
  // Called (outside the device lock) when a guest access may have moved
  // next_deadline(). Set before vCPUs run.
  void set_deadline_changed(std::function<void()> notify);

  // When tick() next needs calling, or nothing if no interrupt can become due.
  [[nodiscard]] std::optional<Deadline> next_deadline() const;
  // Sets the flags that came due by `now` and pulses IRQ 8 if IRQF rose.
  void tick(Deadline now);

  // Bit 7 of the last index write; the machine may honour it (KVM delivers NMIs).
  [[nodiscard]] bool nmi_disabled() const;

  [[nodiscard]] CmosRtcState save() const;
  void restore(const CmosRtcState& state);

 private:
  struct CalendarTime {
    std::int64_t year;
    int month, day, hour, minute, second, weekday;  // weekday 1 = Sunday
  };

  std::uint8_t read_data();
  void write_data(std::uint8_t value);
  bool frozen() const { return (cmos_[rtc::kRegisterB] & rtc::kBSet) != 0; }
  bool running() const;
  std::int64_t guest_seconds() const;
  std::chrono::nanoseconds subsecond() const;
  // Clock registers as they read now, in the current BCD/binary and 12/24 format.
  void snapshot_clock_registers(std::int64_t seconds);
  // The time in the clock registers (SET frozen, or a single write) becomes the guest clock.
  void commit_clock_registers();
  std::uint8_t encode(int value) const;
  int decode(std::uint8_t value) const;
  std::uint8_t encode_hour(int hour) const;
  int decode_hour(std::uint8_t value) const;
  void restart_periodic(Deadline now);
  std::optional<std::chrono::nanoseconds> periodic_period() const;
  // Brings UF/AF/PF up to date; returns true when IRQF rose.
  bool catch_up(Deadline now);
  bool alarm_matches(std::int64_t second_of_day) const;
  bool update_irq_flag();

  static CalendarTime calendar_from_seconds(std::int64_t seconds);
  static std::int64_t seconds_from_calendar(const CalendarTime& time);

  WallClock wall_clock_;
  MonotonicClock monotonic_clock_;
  std::shared_ptr<InterruptLine> irq_;
  std::function<void()> deadline_changed_;
  mutable std::mutex mutex_;
  std::array<std::uint8_t, rtc::kCmosSize> cmos_{};
  std::uint8_t index_ = 0;
  bool nmi_disabled_ = false;
  std::int64_t offset_seconds_ = 0;
  std::uint8_t flags_ = 0;
  std::int64_t last_update_second_ = 0;
  std::optional<Deadline> next_periodic_;
};

}  // namespace nestbox
