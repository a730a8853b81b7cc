// A machine's lifecycle: created → running ⇄ paused → stopped | error.
#pragma once

#include <string_view>

namespace nestbox {

enum class MachineState { Created, Running, Paused, Stopped, Error };

constexpr std::string_view machine_state_name(MachineState state) {
  switch (state) {
    case MachineState::Created: return "created";
    case MachineState::Running: return "running";
    case MachineState::Paused: return "paused";
    case MachineState::Stopped: return "stopped";
    case MachineState::Error: return "error";
  }
  return "error";
}

// Why a machine left the running state; sent with the state event.
namespace stop_reason {
inline constexpr std::string_view kHalted = "halted";             // every vCPU halted, IF=0
inline constexpr std::string_view kPoweredOff = "powered-off";    // powerOff(), close(), ACPI S5
inline constexpr std::string_view kReset = "reset";               // a reset with rebootOnReset off
inline constexpr std::string_view kResetLoop = "reset-loop";      // repeated triple faults
inline constexpr std::string_view kInternalError = "internal-error";
inline constexpr std::string_view kEntryFailed = "entry-failed";
inline constexpr std::string_view kUnexpectedExit = "unexpected-exit";
inline constexpr std::string_view kVmmFailure = "vmm-failure";    // our own code threw
}  // namespace stop_reason

}  // namespace nestbox
