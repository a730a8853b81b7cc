// A virtual machine: guest RAM, the KVM VM and its vCPU threads, the buses
// and the devices on them, booted directly into a kernel image.
//
// Lifecycle: the constructor builds everything and loads the kernel (all
// configuration errors surface there); start() runs the vCPUs; the machine
// stops by itself (halt, triple fault, error) or on power_off(); close()
// joins the threads and releases every fd and mapping. Events go to the
// MachineEventSink, from vCPU threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/address_bus.h"
#include "devices/serial/serial_port.h"
#include "kvm/kvm_system.h"
#include "kvm/kvm_vm.h"
#include "machine/machine_config.h"
#include "machine/machine_events.h"
#include "machine/machine_state.h"
#include "machine/vcpu_thread.h"
#include "memory/guest_memory.h"

namespace nestbox {

inline constexpr std::uint16_t kCom1Port = 0x3f8;

struct MachineStats {
  BusStats ports;
  BusStats mmio;
  std::uint64_t serial_bytes_out = 0;
};

class Machine {
 public:
  Machine(const MachineConfig& config, MachineEventSink& events,
          const std::string& kvm_device_path = kvm::kDefaultKvmDevicePath);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // created → running. Throws InvalidState from any other state.
  void start();
  // Asks the machine to stop; returns at once. A state event follows.
  // A machine that never started stops immediately; a stopped one ignores it.
  void power_off();
  // Stops the vCPUs if needed, joins their threads and frees the VM. Idempotent.
  void close();

  [[nodiscard]] MachineState state() const;
  [[nodiscard]] MachineStats stats() const;
  [[nodiscard]] bool closed() const;

 private:
  void on_vcpu_finished(std::uint32_t vcpu_index, VcpuResult result);

  MachineEventSink& events_;
  kvm::KvmSystem system_;
  std::optional<GuestMemory> memory_;
  std::optional<kvm::KvmVm> vm_;
  AddressBus port_bus_{"port I/O"};
  AddressBus mmio_bus_{"MMIO"};
  std::shared_ptr<SerialPort> com1_;
  std::atomic<std::uint64_t> serial_bytes_out_{0};

  mutable std::mutex state_mutex_;
  MachineState state_ = MachineState::Created;
  bool closed_ = false;
  std::size_t vcpus_running_ = 0;
  // The most serious way a vCPU has finished so far, and its report if it failed.
  std::optional<VcpuOutcome> worst_outcome_;
  std::string_view stop_reason_;
  std::optional<MachineErrorReport> error_;

  // Last: destroyed first, so no vCPU thread outlives the buses and memory it uses.
  std::vector<std::unique_ptr<VcpuThread>> vcpus_;
};

}  // namespace nestbox
