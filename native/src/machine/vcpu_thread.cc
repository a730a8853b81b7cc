#include "machine/vcpu_thread.h"

#include <linux/kvm.h>

#include <exception>
#include <string>

#include "common/hex.h"
#include "common/nestbox_error.h"
#include "kvm/kvm_exit_names.h"
#include "machine/vcpu_kick.h"
#include "machine/vcpu_setup.h"

namespace nestbox {

namespace {

constexpr std::uint64_t kRflagsInterruptEnable = 1ull << 9;

std::string describe_internal_error(const kvm_run& run) {
  switch (run.internal.suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: {
      std::string text = "the instruction emulator cannot execute the guest's instruction";
      const auto& failure = run.emulation_failure;
      if ((failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0 &&
          failure.insn_size > 0 && failure.insn_size <= sizeof failure.insn_bytes) {
        text += " (bytes";
        static constexpr char kDigits[] = "0123456789abcdef";
        for (std::uint8_t i = 0; i < failure.insn_size; ++i) {
          text += ' ';
          text += kDigits[failure.insn_bytes[i] >> 4];
          text += kDigits[failure.insn_bytes[i] & 0xf];
        }
        text += ')';
      }
      return text;
    }
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "simultaneous exceptions while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "a VM exit occurred while delivering an event";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "an unexpected hardware VM exit";
    default: return "suberror " + std::to_string(run.internal.suberror);
  }
}

}  // namespace

void VcpuRunControl::request_pause() {
  std::unique_lock lock(mutex_);
  pause_.store(true);
  notify_if_all_parked(lock);
}

void VcpuRunControl::resume() {
  {
    const std::lock_guard lock(mutex_);
    pause_.store(false);
  }
  wakeup_.notify_all();
}

void VcpuRunControl::request_stop() {
  {
    const std::lock_guard lock(mutex_);
    stop_.store(true);
  }
  wakeup_.notify_all();
}

void VcpuRunControl::park() {
  std::unique_lock lock(mutex_);
  ++parked_;
  notify_if_all_parked(lock);
  wakeup_.wait(lock, [this] { return !pause_.load() || stop_.load(); });
  --parked_;
}

void VcpuRunControl::count_finished_thread() {
  std::unique_lock lock(mutex_);
  ++parked_;
  notify_if_all_parked(lock);
}

void VcpuRunControl::notify_if_all_parked(std::unique_lock<std::mutex>& lock) {
  if (pause_.load() && parked_ == vcpu_count_ && on_all_parked_) {
    lock.unlock();
    on_all_parked_();
    lock.lock();
  }
}

VcpuThread::VcpuThread(std::uint32_t index, kvm::KvmVcpu vcpu, AddressBus& port_bus,
                       AddressBus& mmio_bus, VcpuRunControl& control, OnFinished on_finished)
    : index_(index),
      vcpu_(std::move(vcpu)),
      port_bus_(port_bus),
      mmio_bus_(mmio_bus),
      control_(control),
      on_finished_(std::move(on_finished)) {}

VcpuThread::~VcpuThread() {
  control_.request_stop();
  kick();
  join();
}

void VcpuThread::start() {
  install_vcpu_kick_handler();
  thread_ = std::thread([this] { thread_main(); });
}

void VcpuThread::kick() {
  // immediate_exit covers a kick that lands before the thread enters KVM_RUN;
  // the signal covers one already inside it (including a halted vCPU).
  vcpu_.set_immediate_exit(true);
  if (thread_.joinable()) {
    send_vcpu_kick(thread_.native_handle());
  }
}

void VcpuThread::probe() {
  probe_requested_.store(true);
  kick();
}

void VcpuThread::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void VcpuThread::thread_main() {
  unblock_vcpu_kick_signal();
  VcpuResult result = run_until_done();
  control_.count_finished_thread();
  if (on_finished_) {
    on_finished_(index_, std::move(result));
  }
}

VcpuResult VcpuThread::run_until_done() {
  try {
    for (;;) {
      if (control_.stop_requested()) {
        return VcpuResult{VcpuOutcome::Stopped, stop_reason::kPoweredOff, std::nullopt};
      }
      if (control_.pause_requested()) {
        // KVM finishes an I/O or MMIO instruction whose exit we handled (the
        // IN's result, RIP past it) only on the next KVM_RUN: run it to that
        // point without entering the guest, so a paused vCPU's registers are
        // a consistent state — the one a snapshot saves. A string I/O
        // instruction may exit again for its next chunk.
        while (vcpu_.complete_pending_exit() == kvm::RunOutcome::Exited) {
          exits_.fetch_add(1, std::memory_order_relaxed);
          if (std::optional<VcpuResult> done = handle_exit()) {
            return std::move(*done);
          }
        }
        // Out of KVM_RUN for a while: tell a kvmclock guest, so its watchdogs
        // do not count the pause as a lockup.
        vcpu_.notify_kvmclock_paused();
        control_.park();
        continue;
      }
      const kvm::RunOutcome outcome = vcpu_.run();
      // Clear before reading the flags: a requester sets its flag first, then
      // immediate_exit, so a request is never lost between the two.
      vcpu_.set_immediate_exit(false);
      if (outcome == kvm::RunOutcome::Interrupted) {
        // A kick (stop, pause, probe) or KVM's "retry" (an AP that got INIT).
        halted_for_good_.store(probe_requested_.exchange(false) && check_halted_for_good());
        continue;
      }
      halted_for_good_.store(false);
      exits_.fetch_add(1, std::memory_order_relaxed);
      if (std::optional<VcpuResult> done = handle_exit()) {
        return std::move(*done);
      }
    }
  } catch (const std::exception& error) {
    return failure(stop_reason::kVmmFailure, error.what());
  }
}

bool VcpuThread::check_halted_for_good() {
  switch (vcpu_.get_mp_state()) {
    case KVM_MP_STATE_UNINITIALIZED:
    case KVM_MP_STATE_INIT_RECEIVED:
      return true;  // an AP nobody started
    case KVM_MP_STATE_HALTED:
      return (vcpu_.get_regs().rflags & kRflagsInterruptEnable) == 0;
    default:
      return false;
  }
}

std::optional<VcpuResult> VcpuThread::handle_exit() {
  const kvm_run& run = vcpu_.run_area();
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      handle_port_io();
      return std::nullopt;
    case KVM_EXIT_MMIO:
      handle_mmio();
      return std::nullopt;
    case KVM_EXIT_HLT:
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      // The in-kernel LAPIC handles HLT; these only mean "run again".
      return std::nullopt;
    case KVM_EXIT_SHUTDOWN: {
      // Kept for the report should the guest keep doing this (a reset loop).
      VcpuResult result = failure(stop_reason::kResetLoop, "triple fault");
      result.outcome = VcpuOutcome::Shutdown;
      return result;
    }
    case KVM_EXIT_INTERNAL_ERROR:
      return failure(stop_reason::kInternalError,
                     "KVM internal error: " + describe_internal_error(run));
    case KVM_EXIT_FAIL_ENTRY:
      return failure(stop_reason::kEntryFailed,
                     "the CPU refused to enter the guest (hardware entry failure reason " +
                         to_hex(run.fail_entry.hardware_entry_failure_reason) + ")");
    default:
      return failure(stop_reason::kUnexpectedExit,
                     "unexpected KVM exit " + std::string(kvm::exit_reason_name(run.exit_reason)) +
                         " (" + std::to_string(run.exit_reason) + ")");
  }
}

void VcpuThread::handle_port_io() {
  const kvm_run& run = vcpu_.run_area();
  const auto& io = run.io;
  // KVM fills these in, but a bad offset would make us write outside the
  // mapping: check them like any other untrusted length.
  const std::span<std::uint8_t> area = vcpu_.run_area_bytes();
  const std::uint64_t total = std::uint64_t{io.size} * io.count;
  if ((io.size != 1 && io.size != 2 && io.size != 4) || io.data_offset > area.size() ||
      total > area.size() - io.data_offset) {
    throw NestboxError(ErrorCode::KvmFailure, "KVM reported a malformed port I/O exit");
  }
  for (std::uint32_t i = 0; i < io.count; ++i) {
    const std::span<std::uint8_t> data = area.subspan(io.data_offset + i * io.size, io.size);
    if (io.direction == KVM_EXIT_IO_IN) {
      port_bus_.read(io.port, data);
    } else {
      port_bus_.write(io.port, data);
    }
  }
}

void VcpuThread::handle_mmio() {
  auto& mmio = vcpu_.run_area().mmio;
  if (mmio.len == 0 || mmio.len > sizeof mmio.data) {
    throw NestboxError(ErrorCode::KvmFailure, "KVM reported a malformed MMIO exit");
  }
  const std::span<std::uint8_t> data(mmio.data, mmio.len);
  if (mmio.is_write != 0) {
    mmio_bus_.write(mmio.phys_addr, data);
  } else {
    mmio_bus_.read(mmio.phys_addr, data);
  }
}

VcpuResult VcpuThread::failure(std::string_view reason, const std::string& message) {
  MachineErrorReport report;
  report.message = "vCPU " + std::to_string(index_) + ": " + message;
  try {
    report.registers = read_vcpu_registers(vcpu_);
    report.message += " at rip " + to_hex(report.registers->rip);
  } catch (const std::exception&) {
    // The registers are a diagnostic; the error itself still gets reported.
  }
  return VcpuResult{VcpuOutcome::Failed, reason, std::move(report)};
}

}  // namespace nestbox
