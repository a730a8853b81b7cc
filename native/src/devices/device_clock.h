// Clocks injected into devices that keep time (RTC, ACPI PM timer), so unit
// tests can drive time by hand and the VMM uses the host's clocks.
#pragma once

#include <chrono>
#include <functional>

namespace nestbox {

// Never goes backwards; the time base for timers and deadlines.
using MonotonicClock = std::function<std::chrono::steady_clock::time_point()>;
// The host's calendar time (UTC), for a guest's real-time clock.
using WallClock = std::function<std::chrono::system_clock::time_point()>;

inline MonotonicClock host_monotonic_clock() {
  return [] { return std::chrono::steady_clock::now(); };
}
inline WallClock host_wall_clock() {
  return [] { return std::chrono::system_clock::now(); };
}

}  // namespace nestbox
