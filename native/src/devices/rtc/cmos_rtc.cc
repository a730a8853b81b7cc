#include "devices/rtc/cmos_rtc.h"

#include <algorithm>

namespace nestbox {

namespace {

using std::chrono::nanoseconds;
constexpr std::int64_t kSecondsPerDay = 86400;

bool is_clock_register(std::uint8_t index) {
  switch (index) {
    case rtc::kSeconds:
    case rtc::kMinutes:
    case rtc::kHours:
    case rtc::kDayOfWeek:
    case rtc::kDayOfMonth:
    case rtc::kMonth:
    case rtc::kYear:
    case rtc::kCentury: return true;
    default: return false;
  }
}

std::int64_t floor_div(std::int64_t value, std::int64_t divisor) {
  const std::int64_t quotient = value / divisor;
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

}  // namespace

CmosRtc::CmosRtc(WallClock wall_clock, MonotonicClock monotonic_clock,
                 std::shared_ptr<InterruptLine> irq)
    : wall_clock_(std::move(wall_clock)),
      monotonic_clock_(std::move(monotonic_clock)),
      irq_(std::move(irq)) {
  // What firmware leaves: time base running at 1024 Hz periodic rate, BCD, 24-hour.
  cmos_[rtc::kRegisterA] = rtc::kADividerNormal | 0x06;
  cmos_[rtc::kRegisterB] = rtc::kB24Hour;
  cmos_[rtc::kRegisterD] = rtc::kDValidRam;
  last_update_second_ = guest_seconds();
  restart_periodic(monotonic_clock_());
}

void CmosRtc::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  bool notify = false;
  {
    const std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < data.size(); ++i) {
      const std::uint64_t port = offset + i;
      if (port == rtc::kIndexPort) {
        // Write-only on the MC146818; reading back the index helps nobody but is harmless.
        data[i] = static_cast<std::uint8_t>(index_ | (nmi_disabled_ ? rtc::kNmiDisable : 0));
      } else if (port == rtc::kDataPort) {
        notify = notify || index_ == rtc::kRegisterC;
        data[i] = read_data();
      } else {
        data[i] = 0xff;
      }
    }
  }
  if (notify && deadline_changed_) {
    deadline_changed_();
  }
}

void CmosRtc::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  bool notify = false;
  bool pulse = false;
  {
    const std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < data.size(); ++i) {
      const std::uint64_t port = offset + i;
      if (port == rtc::kIndexPort) {
        index_ = data[i] & rtc::kIndexMask;  // 7 bits: never outside the 128 bytes
        nmi_disabled_ = (data[i] & rtc::kNmiDisable) != 0;
      } else if (port == rtc::kDataPort) {
        notify = true;
        write_data(data[i]);
        // Enabling an interrupt whose flag is already set raises IRQF now.
        pulse = update_irq_flag() || pulse;
      }
    }
  }
  if (pulse && irq_) {
    irq_->pulse();
  }
  if (notify && deadline_changed_) {
    deadline_changed_();
  }
}

std::uint8_t CmosRtc::read_data() {
  const std::uint8_t index = index_;
  if (is_clock_register(index) && !frozen()) {
    snapshot_clock_registers(guest_seconds());
    return cmos_[index];
  }
  switch (index) {
    case rtc::kRegisterA: {
      std::uint8_t value = cmos_[rtc::kRegisterA] & static_cast<std::uint8_t>(~rtc::kAUpdateInProgress);
      // UIP is set only in the last 244 µs before each update, so a guest that
      // waits for it to clear waits at most that long, and one that waits for
      // the edge to find the start of a second sees it once a second.
      if (running() &&
          subsecond() >= std::chrono::seconds(1) - rtc::kUpdateInProgressWindow) {
        value |= rtc::kAUpdateInProgress;
      }
      return value;
    }
    case rtc::kRegisterC: {
      catch_up(monotonic_clock_());
      const std::uint8_t value = flags_;
      flags_ = 0;  // reading C acknowledges every interrupt cause
      return value;
    }
    case rtc::kRegisterD: return rtc::kDValidRam;
    default: return cmos_[index];
  }
}

void CmosRtc::write_data(std::uint8_t value) {
  const std::uint8_t index = index_;
  if (is_clock_register(index)) {
    if (frozen()) {
      cmos_[index] = value;  // takes effect when SET is cleared
    } else {
      // A write while the clock runs sets that one field of the current time.
      snapshot_clock_registers(guest_seconds());
      cmos_[index] = value;
      commit_clock_registers();
    }
    return;
  }
  switch (index) {
    case rtc::kRegisterA: {
      const std::uint8_t before = cmos_[rtc::kRegisterA];
      cmos_[rtc::kRegisterA] = value & static_cast<std::uint8_t>(~rtc::kAUpdateInProgress);
      if (((before ^ value) & (rtc::kADividerMask | rtc::kARateMask)) != 0) {
        restart_periodic(monotonic_clock_());
      }
      return;
    }
    case rtc::kRegisterB: {
      const bool was_frozen = frozen();
      std::uint8_t b = value;
      if ((b & rtc::kBSet) != 0) {
        b &= static_cast<std::uint8_t>(~rtc::kBUpdateEnable);  // SET clears UIE (MC146818)
        if (!was_frozen) {
          snapshot_clock_registers(guest_seconds());  // the registers hold still from here
        }
      }
      cmos_[rtc::kRegisterB] = b;
      if (was_frozen && (b & rtc::kBSet) == 0) {
        commit_clock_registers();
      }
      return;
    }
    case rtc::kRegisterC:
    case rtc::kRegisterD: return;  // read-only
    default: cmos_[index] = value; return;
  }
}

bool CmosRtc::running() const {
  return !frozen() && (cmos_[rtc::kRegisterA] & rtc::kADividerMask) == rtc::kADividerNormal;
}

std::int64_t CmosRtc::guest_seconds() const {
  const auto since_epoch = wall_clock_().time_since_epoch();
  return std::chrono::floor<std::chrono::seconds>(since_epoch).count() + offset_seconds_;
}

nanoseconds CmosRtc::subsecond() const {
  const auto since_epoch = wall_clock_().time_since_epoch();
  return std::chrono::duration_cast<nanoseconds>(
      since_epoch - std::chrono::floor<std::chrono::seconds>(since_epoch));
}

void CmosRtc::snapshot_clock_registers(std::int64_t seconds) {
  const CalendarTime time = calendar_from_seconds(seconds);
  cmos_[rtc::kSeconds] = encode(time.second);
  cmos_[rtc::kMinutes] = encode(time.minute);
  cmos_[rtc::kHours] = encode_hour(time.hour);
  cmos_[rtc::kDayOfWeek] = encode(time.weekday);
  cmos_[rtc::kDayOfMonth] = encode(time.day);
  cmos_[rtc::kMonth] = encode(time.month);
  const std::int64_t year = std::clamp<std::int64_t>(time.year, 0, 9999);
  cmos_[rtc::kYear] = encode(static_cast<int>(year % 100));
  cmos_[rtc::kCentury] = encode(static_cast<int>(year / 100));
}

void CmosRtc::commit_clock_registers() {
  // Out-of-range fields are clamped: the guest cannot make us compute an
  // undefined date, and a real MC146818 would misbehave just as arbitrarily.
  CalendarTime time{};
  time.year = std::clamp(decode(cmos_[rtc::kCentury]), 0, 99) * 100 +
              std::clamp(decode(cmos_[rtc::kYear]), 0, 99);
  time.month = std::clamp(decode(cmos_[rtc::kMonth]), 1, 12);
  time.day = std::clamp(decode(cmos_[rtc::kDayOfMonth]), 1, 31);
  time.hour = std::clamp(decode_hour(cmos_[rtc::kHours]), 0, 23);
  time.minute = std::clamp(decode(cmos_[rtc::kMinutes]), 0, 59);
  time.second = std::clamp(decode(cmos_[rtc::kSeconds]), 0, 59);
  const std::int64_t target = seconds_from_calendar(time);
  const auto since_epoch = wall_clock_().time_since_epoch();
  offset_seconds_ = target - std::chrono::floor<std::chrono::seconds>(since_epoch).count();
  last_update_second_ = target;  // setting the clock is not an update
}

std::uint8_t CmosRtc::encode(int value) const {
  if ((cmos_[rtc::kRegisterB] & rtc::kBBinary) != 0) {
    return static_cast<std::uint8_t>(value);
  }
  return static_cast<std::uint8_t>(((value / 10) % 10) << 4 | (value % 10));
}

int CmosRtc::decode(std::uint8_t value) const {
  if ((cmos_[rtc::kRegisterB] & rtc::kBBinary) != 0) {
    return value;
  }
  return (value >> 4) * 10 + (value & 0x0f);
}

std::uint8_t CmosRtc::encode_hour(int hour) const {
  if ((cmos_[rtc::kRegisterB] & rtc::kB24Hour) != 0) {
    return encode(hour);
  }
  const int twelve = hour % 12 == 0 ? 12 : hour % 12;
  return static_cast<std::uint8_t>(encode(twelve) | (hour >= 12 ? rtc::kHourPm : 0));
}

int CmosRtc::decode_hour(std::uint8_t value) const {
  if ((cmos_[rtc::kRegisterB] & rtc::kB24Hour) != 0) {
    return decode(value);
  }
  const int twelve = decode(value & static_cast<std::uint8_t>(~rtc::kHourPm));
  return twelve % 12 + ((value & rtc::kHourPm) != 0 ? 12 : 0);
}

std::optional<nanoseconds> CmosRtc::periodic_period() const {
  if ((cmos_[rtc::kRegisterA] & rtc::kADividerMask) != rtc::kADividerNormal) {
    return std::nullopt;  // the divider chain is held in reset
  }
  int rate = cmos_[rtc::kRegisterA] & rtc::kARateMask;
  if (rate == 0) {
    return std::nullopt;
  }
  if (rate < 3) {
    rate += 7;  // rates 1 and 2 repeat 8 and 9 (256 and 128 Hz) with a 32.768 kHz base
  }
  // 32768 Hz / 2^(rate-1): rate 3 is 8192 Hz, rate 6 is 1024 Hz, rate 15 is 2 Hz.
  return nanoseconds((std::int64_t{1} << (rate - 1)) * 1'000'000'000 / 32768);
}

void CmosRtc::restart_periodic(Deadline now) {
  const std::optional<nanoseconds> period = periodic_period();
  next_periodic_.reset();
  if (period) {
    next_periodic_ = now + *period;
  }
}

bool CmosRtc::alarm_matches(std::int64_t second_of_day) const {
  const auto matches = [&](std::uint8_t alarm, std::uint8_t current) {
    return (alarm & rtc::kAlarmDontCare) == rtc::kAlarmDontCare || alarm == current;
  };
  const int hour = static_cast<int>(second_of_day / 3600);
  const int minute = static_cast<int>(second_of_day / 60 % 60);
  const int second = static_cast<int>(second_of_day % 60);
  return matches(cmos_[rtc::kSecondsAlarm], encode(second)) &&
         matches(cmos_[rtc::kMinutesAlarm], encode(minute)) &&
         matches(cmos_[rtc::kHoursAlarm], encode_hour(hour));
}

bool CmosRtc::catch_up(Deadline now) {
  if (next_periodic_ && now >= *next_periodic_) {
    flags_ |= rtc::kCPeriodic;
    // Ticks the guest could not take are coalesced into this one.
    const nanoseconds period = *periodic_period();
    const auto missed = (now - *next_periodic_) / period + 1;
    *next_periodic_ += missed * period;
  }
  if (running()) {
    const std::int64_t current = guest_seconds();
    if (current > last_update_second_) {
      flags_ |= rtc::kCUpdate;
      // Every second since the last look is an update the alarm compares
      // against; a day's worth covers every possible alarm time.
      const std::int64_t first =
          std::max(last_update_second_ + 1, current - kSecondsPerDay + 1);
      for (std::int64_t s = first; s <= current && (flags_ & rtc::kCAlarm) == 0; ++s) {
        if (alarm_matches(s - floor_div(s, kSecondsPerDay) * kSecondsPerDay)) {
          flags_ |= rtc::kCAlarm;
        }
      }
    }
    last_update_second_ = current;
  }
  return update_irq_flag();
}

bool CmosRtc::update_irq_flag() {
  const std::uint8_t enabled = cmos_[rtc::kRegisterB] &
                               (rtc::kBPeriodicEnable | rtc::kBAlarmEnable | rtc::kBUpdateEnable);
  const bool was_set = (flags_ & rtc::kCIrq) != 0;
  if ((flags_ & enabled & 0x70) != 0) {
    flags_ |= rtc::kCIrq;
  }
  return !was_set && (flags_ & rtc::kCIrq) != 0;
}

std::optional<CmosRtc::Deadline> CmosRtc::next_deadline() const {
  const std::lock_guard lock(mutex_);
  if ((flags_ & rtc::kCIrq) != 0) {
    return std::nullopt;  // no new edge until the guest reads register C
  }
  std::optional<Deadline> deadline;
  const std::uint8_t b = cmos_[rtc::kRegisterB];
  if ((b & rtc::kBPeriodicEnable) != 0 && next_periodic_) {
    deadline = next_periodic_;
  }
  if ((b & (rtc::kBUpdateEnable | rtc::kBAlarmEnable)) != 0 && running()) {
    const Deadline next_second = monotonic_clock_() + (std::chrono::seconds(1) - subsecond());
    if (!deadline || next_second < *deadline) {
      deadline = next_second;
    }
  }
  return deadline;
}

void CmosRtc::tick(Deadline now) {
  bool pulse = false;
  {
    const std::lock_guard lock(mutex_);
    pulse = catch_up(now);
  }
  if (pulse && irq_) {
    irq_->pulse();
  }
}

void CmosRtc::set_memory_size(std::uint64_t below_4g, std::uint64_t above_4g) {
  constexpr std::uint64_t kKiB = 1024;
  constexpr std::uint64_t kMiB = 1024 * kKiB;
  const auto put16 = [this](std::uint8_t index, std::uint64_t value) {
    cmos_[index] = static_cast<std::uint8_t>(value);
    cmos_[index + 1] = static_cast<std::uint8_t>(value >> 8);
  };
  const std::lock_guard lock(mutex_);
  put16(0x15, 640);  // base memory in KiB
  // Extended memory from 1 MiB, in KiB; capped at 63 MiB like PC BIOSes, the
  // rest is in the 64 KiB-unit fields.
  const std::uint64_t extended_kib = below_4g > kMiB ? (below_4g - kMiB) / kKiB : 0;
  put16(0x17, std::min<std::uint64_t>(extended_kib, 0xfc00));
  put16(0x30, std::min<std::uint64_t>(extended_kib, 0xfc00));
  const std::uint64_t above_16m = below_4g > 16 * kMiB ? (below_4g - 16 * kMiB) / (64 * kKiB) : 0;
  put16(0x34, std::min<std::uint64_t>(above_16m, 0xffff));
  const std::uint64_t high = std::min<std::uint64_t>(above_4g / (64 * kKiB), 0xffffff);
  cmos_[0x5b] = static_cast<std::uint8_t>(high);
  cmos_[0x5c] = static_cast<std::uint8_t>(high >> 8);
  cmos_[0x5d] = static_cast<std::uint8_t>(high >> 16);
  // The standard checksum over 0x10-0x2d, big-endian at 0x2e.
  std::uint16_t sum = 0;
  for (std::size_t i = 0x10; i <= 0x2d; ++i) {
    sum = static_cast<std::uint16_t>(sum + cmos_[i]);
  }
  cmos_[0x2e] = static_cast<std::uint8_t>(sum >> 8);
  cmos_[0x2f] = static_cast<std::uint8_t>(sum);
}

void CmosRtc::set_deadline_changed(std::function<void()> notify) {
  deadline_changed_ = std::move(notify);
}

bool CmosRtc::nmi_disabled() const {
  const std::lock_guard lock(mutex_);
  return nmi_disabled_;
}

CmosRtcState CmosRtc::save() const {
  const std::lock_guard lock(mutex_);
  CmosRtcState state;
  state.cmos = cmos_;
  state.index = index_;
  state.nmi_disabled = nmi_disabled_;
  state.offset_seconds = offset_seconds_;
  state.flags = flags_;
  state.last_update_second = last_update_second_;
  if (next_periodic_) {
    const auto remaining = *next_periodic_ - monotonic_clock_();
    state.periodic_remaining_ns =
        std::max<std::int64_t>(0, std::chrono::duration_cast<nanoseconds>(remaining).count());
  }
  return state;
}

void CmosRtc::restore(const CmosRtcState& state) {
  const std::lock_guard lock(mutex_);
  cmos_ = state.cmos;
  cmos_[rtc::kRegisterD] = rtc::kDValidRam;
  index_ = state.index & rtc::kIndexMask;
  nmi_disabled_ = state.nmi_disabled;
  offset_seconds_ = state.offset_seconds;
  flags_ = state.flags & 0xf0;
  last_update_second_ = state.last_update_second;
  next_periodic_.reset();
  const std::optional<nanoseconds> period = periodic_period();
  if (period) {
    const std::int64_t remaining =
        std::clamp<std::int64_t>(state.periodic_remaining_ns, 0, period->count());
    next_periodic_ = monotonic_clock_() + nanoseconds(remaining);
  }
}

CmosRtc::CalendarTime CmosRtc::calendar_from_seconds(std::int64_t seconds) {
  using namespace std::chrono;
  const std::int64_t day_number = floor_div(seconds, kSecondsPerDay);
  const std::int64_t second_of_day = seconds - day_number * kSecondsPerDay;
  const sys_days day{days{day_number}};
  const year_month_day date{day};
  CalendarTime time{};
  time.year = static_cast<int>(date.year());
  time.month = static_cast<int>(static_cast<unsigned>(date.month()));
  time.day = static_cast<int>(static_cast<unsigned>(date.day()));
  time.hour = static_cast<int>(second_of_day / 3600);
  time.minute = static_cast<int>(second_of_day / 60 % 60);
  time.second = static_cast<int>(second_of_day % 60);
  time.weekday = static_cast<int>(weekday{day}.c_encoding()) + 1;
  return time;
}

std::int64_t CmosRtc::seconds_from_calendar(const CalendarTime& time) {
  using namespace std::chrono;
  // Day overflow (31 February) rolls into the next month, as sys_days defines it.
  const sys_days day{year{static_cast<int>(time.year)} / month{static_cast<unsigned>(time.month)} /
                     std::chrono::day{static_cast<unsigned>(time.day)}};
  return static_cast<std::int64_t>(day.time_since_epoch().count()) * kSecondsPerDay +
         time.hour * 3600 + time.minute * 60 + time.second;
}

}  // namespace nestbox
