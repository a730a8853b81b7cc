// The ACPI fixed-hardware register block of a legacy (not hardware-reduced)
// PC: PM1a event and control registers, the PM timer, a GPE0 block and the
// FADT's reset register, all in port I/O. This is how a guest powers off (S5),
// reboots (RESET_REG) and hears the power button.
//
// Integration: port I/O at acpi_pm::kDefaultBasePort (0x600), kBlockLength
// ports; the FADT built by arch/x86/acpi names the same addresses.
//   auto pm = std::make_shared<AcpiPmBlock>(host_monotonic_clock(), sci_line,
//                                          AcpiPmBlock::Callbacks{power_off, reset, log});
//   port_bus.attach(acpi_pm::kDefaultBasePort, acpi_pm::kBlockLength, pm);
// The SCI is GSI 9, level-triggered active high (the MADT overrides IRQ 9 so):
// the device holds the line asserted while an enabled status bit is set, so
// the machine's InterruptLine must be a level one (irqfd with a resample fd).
// `power_off` and `reset` run on the vCPU thread that wrote the register,
// outside the device lock. `press_power_button()` may be called from any
// thread (the UI's "shut down" button). Nothing to call from the I/O loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>

#include "bus/bus_device.h"
#include "devices/acpi_pm/acpi_pm_registers.h"
#include "devices/device_clock.h"
#include "devices/interrupt_line.h"

namespace nestbox {

// The guest-visible state, for save/restore. The timer is kept as a count so
// a restored guest sees it continue from where it was, not jump.
struct AcpiPmState {
  std::uint16_t pm1_status = 0;   // without TMR_STS, which follows the timer
  std::uint16_t pm1_enable = 0;
  std::uint16_t pm1_control = acpi_pm::kSciEnable;
  std::uint16_t gpe0_status = 0;
  std::uint16_t gpe0_enable = 0;
  std::uint64_t timer_ticks = 0;         // the free-running count (all 64 bits of it)
  std::uint64_t timer_status_ticks = 0;  // the count when TMR_STS was last cleared
};

struct AcpiPmStats {
  std::uint64_t ignored_sleep_requests = 0;  // S1-S4: we only implement S5
};

class AcpiPmBlock : public BusDevice {
 public:
  struct Callbacks {
    std::function<void()> power_off;  // the guest entered S5
    std::function<void()> reset;      // the guest wrote RESET_VALUE to RESET_REG
    std::function<void(std::string_view)> notice;  // something worth a log line
  };

  AcpiPmBlock(MonotonicClock clock, std::shared_ptr<InterruptLine> sci, Callbacks callbacks);

  void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Presses the fixed-feature power button: sets PWRBTN_STS and raises the
  // SCI if the guest enabled it. Returns whether it did, i.e. whether the
  // guest listens (an OS without ACPI never will; the UI can say so).
  bool press_power_button();

  [[nodiscard]] AcpiPmStats stats() const;
  [[nodiscard]] AcpiPmState save() const;
  // Also drives the SCI to the restored level.
  void restore(const AcpiPmState& state);

 private:
  using TimePoint = std::chrono::steady_clock::time_point;

  std::uint64_t timer_ticks(TimePoint now) const;
  std::uint16_t pm1_status(std::uint64_t ticks) const;
  bool sci_level() const;
  void update_sci();

  MonotonicClock clock_;
  std::shared_ptr<InterruptLine> sci_;
  Callbacks callbacks_;
  mutable std::mutex mutex_;
  std::uint16_t pm1_status_ = 0;
  std::uint16_t pm1_enable_ = 0;
  std::uint16_t pm1_control_ = acpi_pm::kSciEnable;
  std::uint16_t gpe0_status_ = 0;
  std::uint16_t gpe0_enable_ = 0;
  // ticks = timer_base_ticks_ + ticks elapsed since timer_base_time_.
  TimePoint timer_base_time_;
  std::uint64_t timer_base_ticks_ = 0;
  std::uint64_t timer_status_ticks_ = 0;
  bool sci_asserted_ = false;
  AcpiPmStats stats_;
};

}  // namespace nestbox
