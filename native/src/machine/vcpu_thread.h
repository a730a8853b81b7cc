// One vCPU on its own thread: the KVM_RUN loop, routing port I/O and MMIO
// exits to the buses, and turning every way the loop can end into a result.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "bus/address_bus.h"
#include "kvm/kvm_vcpu.h"
#include "machine/machine_events.h"

namespace nestbox {

enum class VcpuOutcome {
  Halted,      // HLT with interrupts disabled: nothing can ever wake it
  PoweredOff,  // stop was requested
  Shutdown,    // triple fault
  Failed,      // KVM or the VMM could not continue; `error` says why
};

struct VcpuResult {
  VcpuOutcome outcome;
  std::string_view reason;  // one of stop_reason::*
  std::optional<MachineErrorReport> error;
};

class VcpuThread {
 public:
  // Called once, on the vCPU thread, as its last act.
  using OnFinished = std::function<void(std::uint32_t vcpu_index, VcpuResult result)>;

  VcpuThread(std::uint32_t index, kvm::KvmVcpu vcpu, AddressBus& port_bus, AddressBus& mmio_bus,
             OnFinished on_finished);
  ~VcpuThread();
  VcpuThread(const VcpuThread&) = delete;
  VcpuThread& operator=(const VcpuThread&) = delete;

  void start();
  // Thread-safe and idempotent; returns at once. The thread finishes with PoweredOff
  // unless it had already finished for another reason.
  void request_stop();
  void join();

  [[nodiscard]] kvm::KvmVcpu& vcpu() { return vcpu_; }

 private:
  void thread_main();
  VcpuResult run_until_done();
  // nullopt: keep running.
  std::optional<VcpuResult> handle_exit();
  void handle_port_io();
  void handle_mmio();
  std::optional<VcpuResult> handle_halt();
  VcpuResult failure(std::string_view reason, const std::string& message);

  std::uint32_t index_;
  kvm::KvmVcpu vcpu_;
  AddressBus& port_bus_;
  AddressBus& mmio_bus_;
  OnFinished on_finished_;

  std::atomic<bool> stop_requested_{false};
  std::mutex park_mutex_;
  std::condition_variable park_wakeup_;
  std::thread thread_;
};

}  // namespace nestbox
