// One vCPU on its own thread: the KVM_RUN loop, routing port I/O and MMIO
// exits to the buses, pausing (parked outside KVM_RUN), answering "is this
// vCPU halted for good?" probes, and turning every way the loop can end into
// a result. Other threads reach it only through its flags plus a kick
// (immediate_exit and a signal), never through vCPU ioctls while it runs.
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
  Stopped,   // a stop was requested
  Shutdown,  // triple fault: the machine resets
  Failed,    // KVM or the VMM could not continue; `error` says why
};

struct VcpuResult {
  VcpuOutcome outcome;
  std::string_view reason;  // one of stop_reason::* for failures
  std::optional<MachineErrorReport> error;
};

// Pause and stop, shared by all of a machine's vCPU threads: a vCPU parks
// when pause is requested and tells the owner once all of them have.
class VcpuRunControl {
 public:
  VcpuRunControl(std::size_t vcpu_count, std::function<void()> on_all_parked)
      : vcpu_count_(vcpu_count), on_all_parked_(std::move(on_all_parked)) {}

  void request_pause();
  void resume();
  void request_stop();

  [[nodiscard]] bool pause_requested() const { return pause_.load(std::memory_order_seq_cst); }
  [[nodiscard]] bool stop_requested() const { return stop_.load(std::memory_order_seq_cst); }
  // vCPU threads: waits while paused; a thread that never started counts as parked.
  void park();
  void count_finished_thread();

 private:
  void notify_if_all_parked(std::unique_lock<std::mutex>& lock);

  std::size_t vcpu_count_;
  std::function<void()> on_all_parked_;
  std::atomic<bool> pause_{false};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::size_t parked_ = 0;  // parked or finished
};

class VcpuThread {
 public:
  // Called once, on the vCPU thread, as its last act.
  using OnFinished = std::function<void(std::uint32_t vcpu_index, VcpuResult result)>;

  VcpuThread(std::uint32_t index, kvm::KvmVcpu vcpu, AddressBus& port_bus, AddressBus& mmio_bus,
             VcpuRunControl& control, OnFinished on_finished);
  ~VcpuThread();
  VcpuThread(const VcpuThread&) = delete;
  VcpuThread& operator=(const VcpuThread&) = delete;

  void start();
  // Gets the thread out of KVM_RUN so it re-checks the run control. Thread-safe.
  void kick();
  void join();

  // Halt detection (from the I/O thread). `exit_count` changes with every exit
  // to user space; `probe()` asks the thread, if it has been silent, to look at
  // its own state; `halted_for_good()` is its last answer: halted with
  // interrupts disabled, or an AP never started (waiting for INIT/SIPI).
  [[nodiscard]] std::uint64_t exit_count() const { return exits_.load(std::memory_order_relaxed); }
  void probe();
  [[nodiscard]] bool halted_for_good() const { return halted_for_good_.load(); }

  [[nodiscard]] std::uint32_t index() const { return index_; }
  [[nodiscard]] kvm::KvmVcpu& vcpu() { return vcpu_; }

 private:
  void thread_main();
  VcpuResult run_until_done();
  // nullopt: keep running.
  std::optional<VcpuResult> handle_exit();
  void handle_port_io();
  void handle_mmio();
  bool check_halted_for_good();
  VcpuResult failure(std::string_view reason, const std::string& message);

  std::uint32_t index_;
  kvm::KvmVcpu vcpu_;
  AddressBus& port_bus_;
  AddressBus& mmio_bus_;
  VcpuRunControl& control_;
  OnFinished on_finished_;

  std::atomic<std::uint64_t> exits_{0};
  std::atomic<bool> probe_requested_{false};
  std::atomic<bool> halted_for_good_{false};
  std::thread thread_;
};

}  // namespace nestbox
