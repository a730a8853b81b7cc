// A KVM vCPU fd and its mmap'd kvm_run area, through which KVM_RUN reports exits.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

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

  // --- State for snapshots (see kvm/vcpu_state.h for the order they are used in).
  // A vCPU ioctl waits for the vCPU's KVM_RUN to return: call these only while
  // the vCPU is parked outside KVM_RUN.

  // After an I/O or MMIO exit, KVM finishes the instruction (stores an IN's
  // data, advances RIP) only on the next KVM_RUN; until then the registers are
  // not consistent (api.rst, KVM_EXIT_IO/MMIO note). This enters KVM_RUN with
  // immediate_exit set, so KVM completes the pending operation and returns
  // without running another guest instruction. Returns Interrupted when done;
  // Exited when completing produced a new exit (the next chunk of a string
  // I/O instruction): handle that exit like any other and call this again.
  // Keeps the caller's immediate_exit setting.
  RunOutcome complete_pending_exit();

  // KVM_GET_CPUID2: the table KVM_SET_CPUID2 gave this vCPU.
  [[nodiscard]] std::vector<kvm_cpuid_entry2> get_cpuid() const;
  // KVM_GET/SET_SREGS2 (KVM_CAP_SREGS2): SREGS without the pending-interrupt
  // bitmap (it is in VCPU_EVENTS instead) and with the PAE PDPTRs.
  [[nodiscard]] kvm_sregs2 get_sregs2() const;
  void set_sregs2(const kvm_sregs2& sregs) const;
  // KVM_GET/SET_FPU: the legacy x87/SSE state, for hosts without XSAVE.
  [[nodiscard]] kvm_fpu get_fpu() const;
  void set_fpu(const kvm_fpu& fpu) const;
  // KVM_GET_XSAVE2 (`size` from KVM_CAP_XSAVE2 on the VM fd, at least 4096) or,
  // with `use_xsave2` false, KVM_GET_XSAVE (exactly 4096 bytes).
  [[nodiscard]] std::vector<std::uint8_t> get_xsave(std::size_t size, bool use_xsave2) const;
  // KVM_SET_XSAVE. KVM reads as many bytes as KVM_CAP_XSAVE2 says (4096
  // without it): `area` must be at least that long, or KVM reads past it.
  // The caller (vcpu_state.cc) pads it; this checks the 4096-byte minimum.
  void set_xsave(std::span<const std::uint8_t> area) const;
  [[nodiscard]] kvm_xcrs get_xcrs() const;
  void set_xcrs(const kvm_xcrs& xcrs) const;
  [[nodiscard]] kvm_vcpu_events get_vcpu_events() const;
  void set_vcpu_events(const kvm_vcpu_events& events) const;
  [[nodiscard]] kvm_debugregs get_debugregs() const;
  void set_debugregs(const kvm_debugregs& debugregs) const;
  // KVM_GET_TSC_KHZ: the guest TSC frequency. 0 when the host does not say.
  [[nodiscard]] std::uint32_t get_tsc_khz() const;
  // KVM_SET_TSC_KHZ (KVM_CAP_TSC_CONTROL). False when KVM refuses it.
  bool set_tsc_khz(std::uint32_t khz) const;

 private:
  UniqueFd fd_;
  kvm_run* run_ = nullptr;
  std::size_t run_area_size_ = 0;
};

}  // namespace nestbox::kvm
