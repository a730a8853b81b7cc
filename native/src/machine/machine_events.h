// What a running machine tells its owner. Called from vCPU threads (and from
// the caller's thread for start); implementations must be thread-safe and must
// not block for long: a vCPU waits while they run.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "machine/machine_state.h"
#include "machine/vcpu_registers.h"

namespace nestbox {

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
  // Sent before the state change to Error it explains.
  virtual void on_error(const MachineErrorReport& report) = 0;
};

}  // namespace nestbox
