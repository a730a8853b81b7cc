#include "devices/acpi_pm/acpi_pm_block.h"

#include <array>
#include <string>

namespace nestbox {

namespace {

using namespace acpi_pm;

// Status bits that exist here; the rest read as zero and ignore writes.
constexpr std::uint16_t kPm1StatusBits = kTimerStatus | kBusMasterStatus | kGlobalStatus |
                                         kPowerButtonStatus | kSleepButtonStatus | kRtcStatus |
                                         kWakeStatus;
constexpr std::uint16_t kPm1EnableBits =
    kTimerEnable | kGlobalEnable | kPowerButtonEnable | kSleepButtonEnable | kRtcEnable;
// Events that raise the SCI. TMR_EN is kept but raises none: it would need a
// timer deadline and no OS we boot enables it (Linux polls the timer).
constexpr std::uint16_t kSciEvents =
    kGlobalStatus | kPowerButtonStatus | kSleepButtonStatus | kRtcStatus;
// Control bits that read back; SLP_EN and GBL_RLS are write-only.
constexpr std::uint16_t kPm1ControlStored = kBusMasterReload | kSleepTypeMask;
constexpr unsigned kTimerStatusBit = 23;  // TMR_STS is set when the counter's top bit toggles

std::uint16_t merge_byte(std::uint16_t value, unsigned byte_index, std::uint8_t byte) {
  const unsigned shift = 8 * byte_index;
  return static_cast<std::uint16_t>((value & ~(0xffu << shift)) | (unsigned{byte} << shift));
}

}  // namespace

AcpiPmBlock::AcpiPmBlock(MonotonicClock clock, std::shared_ptr<InterruptLine> sci,
                         Callbacks callbacks)
    : clock_(std::move(clock)), sci_(std::move(sci)), callbacks_(std::move(callbacks)) {
  restore(AcpiPmState{});
}

std::uint64_t AcpiPmBlock::timer_ticks(TimePoint now) const {
  const auto elapsed = now > timer_base_time_ ? now - timer_base_time_ : TimePoint::duration{};
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  const auto seconds = static_cast<std::uint64_t>(ns / 1'000'000'000);
  const auto rest = static_cast<std::uint64_t>(ns % 1'000'000'000);
  // Split so neither product overflows 64 bits, however long the VM runs.
  return timer_base_ticks_ + seconds * kTimerFrequencyHz + rest * kTimerFrequencyHz / 1'000'000'000;
}

std::uint16_t AcpiPmBlock::pm1_status(std::uint64_t ticks) const {
  std::uint16_t status = pm1_status_;
  if ((ticks >> kTimerStatusBit) != (timer_status_ticks_ >> kTimerStatusBit)) {
    status |= kTimerStatus;
  }
  return status;
}

void AcpiPmBlock::read(std::uint64_t offset, std::span<std::uint8_t> data) {
  const std::lock_guard lock(mutex_);
  // One snapshot per access: a 32-bit timer read is never torn.
  const std::uint64_t ticks = timer_ticks(clock_());
  const std::uint32_t timer = static_cast<std::uint32_t>(ticks) & kTimerMask;
  const std::uint16_t status = pm1_status(ticks);
  // SCI_EN always reads 1: with SMI_CMD = 0 the platform is in ACPI mode for good.
  const std::uint16_t control = static_cast<std::uint16_t>(pm1_control_ | kSciEnable);
  std::array<std::uint8_t, kBlockLength> image{};
  const auto put16 = [&](std::uint64_t at, std::uint16_t value) {
    image[at] = static_cast<std::uint8_t>(value);
    image[at + 1] = static_cast<std::uint8_t>(value >> 8);
  };
  put16(kPm1StatusOffset, status);
  put16(kPm1EnableOffset, pm1_enable_);
  put16(kPm1ControlOffset, control);
  put16(kPmTimerOffset, static_cast<std::uint16_t>(timer));
  put16(kPmTimerOffset + 2, static_cast<std::uint16_t>(timer >> 16));
  put16(kGpe0StatusOffset, gpe0_status_);
  put16(kGpe0EnableOffset, gpe0_enable_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < kBlockLength ? image[offset + i] : 0xff;
  }
}

void AcpiPmBlock::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  bool control_written = false;
  bool power_off = false;
  bool reset = false;
  std::string notice;
  {
    const std::lock_guard lock(mutex_);
    std::uint16_t control = pm1_control_;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const std::uint64_t at = offset + i;
      const std::uint8_t byte = data[i];
      if (at >= kBlockLength) {
        break;
      }
      // Sub-register accesses are allowed: each byte lands in its half.
      switch (at) {
        case kPm1StatusOffset:
        case kPm1StatusOffset + 1: {  // write 1 to clear
          const auto cleared = static_cast<std::uint16_t>(byte << (8 * (at - kPm1StatusOffset)));
          if ((cleared & kTimerStatus) != 0) {
            timer_status_ticks_ = timer_ticks(clock_());
          }
          pm1_status_ &= static_cast<std::uint16_t>(~cleared);
          break;
        }
        case kPm1EnableOffset:
        case kPm1EnableOffset + 1:
          pm1_enable_ = merge_byte(pm1_enable_, static_cast<unsigned>(at - kPm1EnableOffset), byte) &
                        kPm1EnableBits;
          break;
        case kPm1ControlOffset:
        case kPm1ControlOffset + 1:
          control = merge_byte(control, static_cast<unsigned>(at - kPm1ControlOffset), byte);
          control_written = true;
          break;
        case kResetOffset: reset = reset || byte == kResetValue; break;
        case kGpe0StatusOffset:
        case kGpe0StatusOffset + 1:
          gpe0_status_ &= static_cast<std::uint16_t>(~(byte << (8 * (at - kGpe0StatusOffset))));
          break;
        case kGpe0EnableOffset:
        case kGpe0EnableOffset + 1:
          gpe0_enable_ = merge_byte(gpe0_enable_, static_cast<unsigned>(at - kGpe0EnableOffset), byte);
          break;
        default: break;  // the timer and the gaps are read-only
      }
    }
    if (control_written) {
      pm1_control_ = control & kPm1ControlStored;
      if ((control & kSleepEnable) != 0) {
        const unsigned sleep_type = (control & kSleepTypeMask) >> kSleepTypeShift;
        if (sleep_type == kS5SleepType) {
          power_off = true;
        } else {
          // Only S5 is declared in the DSDT, so a guest asking for another
          // state is confused. Report a wake at once so ACPICA's wait for
          // WAK_STS ends instead of spinning forever.
          ++stats_.ignored_sleep_requests;
          pm1_status_ |= kWakeStatus;
          notice = "ACPI: the guest asked for sleep type " + std::to_string(sleep_type) +
                   ", which this machine does not implement; it keeps running";
        }
      }
    }
    update_sci();
  }
  // Outside the lock: the machine may stop the vCPU that is running this.
  if (!notice.empty() && callbacks_.notice) {
    callbacks_.notice(notice);
  }
  if (reset && callbacks_.reset) {
    callbacks_.reset();
  }
  if (power_off && callbacks_.power_off) {
    callbacks_.power_off();
  }
}

bool AcpiPmBlock::press_power_button() {
  const std::lock_guard lock(mutex_);
  pm1_status_ |= kPowerButtonStatus;
  update_sci();
  return (pm1_enable_ & kPowerButtonEnable) != 0;
}

bool AcpiPmBlock::sci_level() const {
  return (pm1_status_ & pm1_enable_ & kSciEvents) != 0 || (gpe0_status_ & gpe0_enable_) != 0;
}

void AcpiPmBlock::update_sci() {
  const bool level = sci_level();
  if (level != sci_asserted_) {
    sci_asserted_ = level;
    if (sci_) {
      sci_->set_level(level);
    }
  }
}

AcpiPmStats AcpiPmBlock::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

AcpiPmState AcpiPmBlock::save() const {
  const std::lock_guard lock(mutex_);
  return AcpiPmState{pm1_status_,  pm1_enable_,  pm1_control_,
                     gpe0_status_, gpe0_enable_, timer_ticks(clock_()),
                     timer_status_ticks_};
}

void AcpiPmBlock::restore(const AcpiPmState& state) {
  const std::lock_guard lock(mutex_);
  pm1_status_ = state.pm1_status & kPm1StatusBits & static_cast<std::uint16_t>(~kTimerStatus);
  pm1_enable_ = state.pm1_enable & kPm1EnableBits;
  pm1_control_ = state.pm1_control & kPm1ControlStored;
  gpe0_status_ = state.gpe0_status;
  gpe0_enable_ = state.gpe0_enable;
  timer_base_time_ = clock_();
  timer_base_ticks_ = state.timer_ticks;
  timer_status_ticks_ = state.timer_status_ticks;
  sci_asserted_ = sci_level();
  if (sci_) {
    sci_->set_level(sci_asserted_);
  }
}

}  // namespace nestbox
