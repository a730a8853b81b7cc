// A KVM vCPU fd and its mmap'd kvm_run area, through which KVM_RUN reports exits.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/unique_fd.h"

namespace nestbox::kvm {

enum class RunOutcome {
  Exited,       // the guest exited; kvm_run.exit_reason says why
  Interrupted,  // a signal or immediate_exit kicked us out, or KVM asked us to retry
};

class KvmVcpu {
 public:
  KvmVcpu(UniqueFd fd, std::size_t run_area_size);
  ~KvmVcpu();
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;
  KvmVcpu(KvmVcpu&& other) noexcept;
  KvmVcpu& operator=(KvmVcpu&&) = delete;

  // One KVM_RUN. EINTR (kick) and EAGAIN (an AP waiting for SIPI) both come
  // back as Interrupted so the caller can re-check whether to keep running.
  RunOutcome run();

  [[nodiscard]] kvm_run& run_area() { return *run_; }
  // The whole mapping: exit payloads (I/O data) are addressed by offsets into it.
  [[nodiscard]] std::span<std::uint8_t> run_area_bytes();

  // Safe to call from another thread: asks the next or current KVM_RUN to return.
  void set_immediate_exit(bool value);

  [[nodiscard]] kvm_regs get_regs() const;
  void set_regs(const kvm_regs& regs) const;
  [[nodiscard]] kvm_sregs get_sregs() const;
  void set_sregs(const kvm_sregs& sregs) const;
  void set_cpuid(std::span<const kvm_cpuid_entry2> entries) const;

  [[nodiscard]] std::uint32_t get_mp_state() const;  // KVM_MP_STATE_*
  void set_mp_state(std::uint32_t state) const;
  [[nodiscard]] kvm_lapic_state get_lapic() const;
  void set_lapic(const kvm_lapic_state& lapic) const;
  // KVM_SET_MSRS: KVM stops at the first MSR it refuses; returns how many it set.
  std::size_t set_msrs(std::span<const kvm_msr_entry> entries) const;
  // KVM_GET_MSRS: fills in `entries[i].data`; returns how many KVM read.
  std::size_t get_msrs(std::span<kvm_msr_entry> entries) const;
  // KVM_KVMCLOCK_CTRL: tells a guest using kvmclock that it was paused, so its
  // soft-lockup watchdog does not fire. Returns false when the guest has no
  // kvmclock (KVM answers EINVAL) or the host lacks the ioctl.
  bool notify_kvmclock_paused() const;

 private:
  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  std::size_t run_area_size_ = 0;
};

}  // namespace nestbox::kvm
