// Everything KVM holds for one x86 vCPU that a snapshot must carry, read out
// of a paused vCPU and written into a fresh one.
//
// Preconditions for save_vcpu_state:
//  * the vCPU is parked outside KVM_RUN (every vCPU ioctl waits for KVM_RUN);
//  * any I/O or MMIO exit it last took has been completed with
//    KvmVcpu::complete_pending_exit() (until then RIP still points at the
//    IN/OUT/MOV and an IN's data is not in RAX: restoring would re-execute it).
//
// Preconditions for restore_vcpu_state, on a vCPU that has never run:
//  * the VM has its irqchip (KVM_CREATE_IRQCHIP) and PIT, and all guest RAM
//    slots: restoring the kvmclock / async-PF / steal-time MSRs makes KVM
//    touch guest memory at the addresses they hold;
//  * nothing else: CPUID comes from the snapshot (step 0 below). A vCPU the
//    board already gave a CPUID is fine (KVM allows KVM_SET_CPUID2 again
//    until the first KVM_RUN).
//
// The restore order, and why (restore_vcpu_state implements it):
//  0. CPUID, the saved table: a running guest kernel must not see its CPU
//     change, and KVM checks XSAVE features, XCR0 and many MSRs against it.
//  1. TSC frequency (KVM_SET_TSC_KHZ, where the host can) before the MSRs,
//     so the TSC MSR is set at the rate it will run at.
//  2. REGS. KVM_SET_REGS drops any pending exception, so it must come before
//     VCPU_EVENTS, which restores it.
//  3. SREGS2 (or SREGS): control registers, EFER, segments and the APIC base.
//     Before LAPIC: the APIC base MSR decides whether the LAPIC is enabled and
//     in x2APIC mode, which changes how KVM_SET_LAPIC reads the APIC ID; and
//     SREGS' CR8 writes the TPR, which the LAPIC's saved TPR then overrides.
//  4. XSAVE (or FPU), then XCRS. KVM checks both against the guest CPUID's
//     XSAVE features (hence CPUID first), not against other registers.
//  5. DEBUGREGS.
//  6. MP_STATE after SREGS: KVM_SET_SREGS forces a BSP sitting at the reset
//     vector to RUNNABLE (a legacy quirk); setting MP_STATE afterwards keeps a
//     halted or INIT-waiting vCPU as it was. Before VCPU_EVENTS, which may
//     latch an INIT that KVM_SET_MP_STATE would otherwise refuse.
//  7. LAPIC, before the MSRs: KVM ignores a write to IA32_TSC_DEADLINE
//     unless the LAPIC timer (LVTT) is already in TSC-deadline mode, and
//     KVM_SET_LAPIC re-arms the timer from the registers it is given.
//  8. MSRs, TSC first and TSC_DEADLINE last: the deadline is an absolute TSC
//     value and is armed against the TSC as restored.
//  9. VCPU_EVENTS last: pending/injected exceptions, interrupts and NMIs,
//     interrupt shadow, SMM state; any earlier step could clear them.
// 10. KVM_KVMCLOCK_CTRL: a kvmclock guest learns it was stopped, so its
//     soft-lockup watchdog ignores the gap.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvm/kvm_vcpu.h"

namespace nestbox::kvm {

class KvmSystem;
class KvmVm;

// Which state ioctls this host's KVM offers, probed once per VM.
struct VcpuStateSupport {
  bool sregs2 = false;         // KVM_CAP_SREGS2
  bool xsave = false;          // KVM_CAP_XSAVE
  std::size_t xsave_size = 0;  // KVM_CAP_XSAVE2 on the VM fd; 0 without XSAVE2
  bool xcrs = false;           // KVM_CAP_XCRS
  bool debugregs = false;      // KVM_CAP_DEBUGREGS
  bool vcpu_events = false;    // KVM_CAP_VCPU_EVENTS
  bool tsc_control = false;    // KVM_CAP_TSC_CONTROL (KVM_SET_TSC_KHZ)
  bool kvmclock_ctrl = false;  // KVM_CAP_KVMCLOCK_CTRL
  // KVM_GET_MSR_INDEX_LIST (the MSRs KVM can save and restore on this host)
  // plus the MTRRs, which KVM handles but does not list. Not all are readable
  // on every vCPU (that depends on its CPUID); saving keeps the ones
  // KVM_GET_MSRS answers for.
  std::vector<std::uint32_t> msr_indices;
};

// KVM_GET_MSR_INDEX_LIST is a system ioctl; KvmSystem keeps its fd to itself,
// so this opens `device_path` again for the one call.
std::vector<std::uint32_t> msr_index_list(const std::string& device_path);

VcpuStateSupport probe_vcpu_state_support(const KvmSystem& system, const KvmVm& vm);

struct VcpuState {
  // KVM_GET_CPUID2. Empty: the caller sets CPUID itself before restoring.
  std::vector<kvm_cpuid_entry2> cpuid;
  std::uint32_t mp_state = KVM_MP_STATE_RUNNABLE;
  kvm_regs regs{};
  // Exactly one of sregs2 / sregs: SREGS2 when the host has it.
  std::optional<kvm_sregs2> sregs2;
  std::optional<kvm_sregs> sregs;
  // XSAVE area (4096 bytes, or KVM_CAP_XSAVE2's size) or, without XSAVE, FPU.
  std::vector<std::uint8_t> xsave;
  std::optional<kvm_fpu> fpu;
  std::optional<kvm_xcrs> xcrs;
  std::optional<kvm_debugregs> debugregs;
  kvm_lapic_state lapic{};
  // Only MSRs KVM_GET_MSRS read on this vCPU, in KVM's index-list order.
  std::vector<kvm_msr_entry> msrs;
  std::optional<kvm_vcpu_events> events;
  std::uint32_t tsc_khz = 0;  // 0: unknown
};

// What a restore could not reproduce exactly; the integrator logs it.
struct VcpuRestoreNotes {
  // MSRs the new vCPU refused (KVM_SET_MSRS stops at the first refusal; each
  // is skipped and the rest still restored). Empty on a like-for-like host.
  std::vector<std::uint32_t> refused_msrs;
  // Saved at one TSC rate, restored on a host that runs another and cannot
  // scale (no KVM_CAP_TSC_CONTROL): guest time will drift.
  bool tsc_rate_differs = false;
};

// Reads in the order MP_STATE first (KVM_GET_MP_STATE first accepts a pending
// INIT/SIPI, which changes registers), VCPU_EVENTS last (KVM folds pending
// NMIs into it as it is read). See the file comment for the preconditions.
[[nodiscard]] VcpuState save_vcpu_state(const KvmVcpu& vcpu, const VcpuStateSupport& support);

// See the file comment for the order and the preconditions. Throws
// NestboxError (KvmFailure) naming the step KVM refused.
VcpuRestoreNotes restore_vcpu_state(KvmVcpu& vcpu, const VcpuState& state,
                                    const VcpuStateSupport& support);

// The MSR order restore uses: TSC first, TSC_DEADLINE last, others as given.
[[nodiscard]] std::vector<kvm_msr_entry> msrs_in_restore_order(std::vector<kvm_msr_entry> msrs);

inline constexpr std::uint32_t kMsrTsc = 0x10;
inline constexpr std::uint32_t kMsrTscDeadline = 0x6e0;

}  // namespace nestbox::kvm
