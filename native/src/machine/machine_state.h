// A machine's lifecycle: created → running → stopped | error.
#pragma once

#include <string_view>

namespace nestbox {

enum class MachineState { Created, Running, Stopped, Error };

constexpr std::string_view machine_state_name(MachineState state) {
  switch (state) {
    case MachineState::Created: return "created";
    case MachineState::Running: return "running";
    case MachineState::Stopped: return "stopped";
    case MachineState::Error: return "error";
  }
  return "error";
}

// Why a machine left the running state; sent with the state event.
namespace stop_reason {
inline constexpr std::string_view kHalted = "halted";             // HLT with interrupts off
inline constexpr std::string_view kPoweredOff = "powered-off";    // powerOff() or close()
inline constexpr std::string_view kShutdown = "shutdown";         // triple fault
inline constexpr std::string_view kInternalError = "internal-error";
inline constexpr std::string_view kEntryFailed = "entry-failed";
inline constexpr std::string_view kUnexpectedExit = "unexpected-exit";
inline constexpr std::string_view kVmmFailure = "vmm-failure";    // our own code threw
}  // namespace stop_reason

}  // namespace nestbox
