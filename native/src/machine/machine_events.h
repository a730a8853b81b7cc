// What a running machine tells its owner. Called from vCPU threads (and from
// the caller's thread for start); implementations must be thread-safe and must
// not block for long: a vCPU waits while they run.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "devices/display/display_mode.h"
#include "devices/display/framebuffer_tracker.h"
#include "machine/machine_state.h"
#include "machine/vcpu_registers.h"

namespace nestbox {

// What reset the machine (JS: ResetEvent.cause).
enum class ResetCause { TripleFault, KeyboardController, Acpi, Host };

constexpr std::string_view reset_cause_name(ResetCause cause) {
  switch (cause) {
    case ResetCause::TripleFault: return "triple-fault";
    case ResetCause::KeyboardController: return "keyboard-controller";
    case ResetCause::Acpi: return "acpi";
    case ResetCause::Host: return "host";
  }
  return "host";
}

struct MachineErrorReport {
  std::string message;
  std::optional<VcpuRegisters> registers;  // absent when they could not be read
};

class MachineEventSink {
 public:
  virtual ~MachineEventSink() = default;

  // Bytes the guest wrote to the serial console, in order; possibly one at a time.
  virtual void on_serial_output(std::span<const std::uint8_t> bytes) = 0;
  virtual void on_state_changed(MachineState state, std::string_view reason) = 0;
  // The machine was reset; `reboot`: it boots again (else a Stopped state follows).
  virtual void on_reset(ResetCause cause, bool reboot) = 0;
  // Sent before the state change to Error it explains.
  virtual void on_error(const MachineErrorReport& report) = 0;
  // A device's notice for the VM's log (a guest driver error, a disk I/O
  // failure, a network backend problem). Not fatal; rate-limited by the sender.
  virtual void on_log(std::string_view /*message*/) {}
  // The guest display's mode changed (nullopt: off, blanked or no display).
  virtual void on_display_mode(const std::optional<display::DisplayMode>& /*mode*/) {}
  // These rectangles of the visible frame changed (while streaming is on).
  // `mode` is the one the rectangles are in (a mode event may have overtaken them).
  virtual void on_display_damage(const display::DisplayMode& /*mode*/,
                                 std::span<const display::DirtyRect> /*rects*/) {}
};

}  // namespace nestbox
