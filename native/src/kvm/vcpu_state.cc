#include "kvm/vcpu_state.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/nestbox_error.h"
#include "common/unique_fd.h"
#include "kvm/kvm_ioctl.h"
#include "kvm/kvm_state_ioctls.h"
#include "kvm/kvm_system.h"
#include "kvm/kvm_vm.h"

namespace nestbox::kvm {

namespace {

[[noreturn]] void throw_restore_failure(const std::string& message) {
  throw NestboxError(ErrorCode::KvmFailure, "restoring vCPU state: " + message);
}

// KVM_GET_MSRS stops at the first MSR it cannot read and returns how many it
// did. Reads `indices`, dropping each one KVM refuses, and keeps the rest.
std::vector<kvm_msr_entry> read_readable_msrs(const KvmVcpu& vcpu,
                                              const std::vector<std::uint32_t>& indices) {
  std::vector<kvm_msr_entry> result;
  result.reserve(indices.size());
  std::size_t next = 0;
  while (next < indices.size()) {
    std::vector<kvm_msr_entry> batch(indices.size() - next);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      batch[i].index = indices[next + i];
    }
    const std::size_t read = std::min(vcpu.get_msrs(batch), batch.size());
    result.insert(result.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(read));
    next += read + 1;  // skip the one KVM refused (if any)
  }
  return result;
}

void restore_xsave(const KvmVcpu& vcpu, const VcpuState& state, const VcpuStateSupport& support) {
  if (!support.xsave) {
    throw_restore_failure("the snapshot holds XSAVE state and this host's KVM lacks KVM_CAP_XSAVE");
  }
  // KVM_SET_XSAVE reads exactly the host's size (KVM_CAP_XSAVE2, else 4096),
  // so the buffer must have that many bytes whatever size was saved.
  const std::size_t host_size = std::max(support.xsave_size, kLegacyXsaveSize);
  if (state.xsave.size() > host_size &&
      std::any_of(state.xsave.begin() + static_cast<std::ptrdiff_t>(host_size), state.xsave.end(),
                  [](std::uint8_t byte) { return byte != 0; })) {
    throw_restore_failure("the saved XSAVE area (" + std::to_string(state.xsave.size()) +
                          " bytes) holds state beyond the " + std::to_string(host_size) +
                          " bytes this host's KVM takes: the snapshot needs CPU features this "
                          "host lacks");
  }
  std::vector<std::uint8_t> area(std::max(host_size, state.xsave.size()), 0);
  std::copy(state.xsave.begin(), state.xsave.end(), area.begin());
  vcpu.set_xsave(area);
}

kvm_sregs sregs_from_sregs2(const kvm_sregs2& in) {
  kvm_sregs out{};
  out.cs = in.cs;
  out.ds = in.ds;
  out.es = in.es;
  out.fs = in.fs;
  out.gs = in.gs;
  out.ss = in.ss;
  out.tr = in.tr;
  out.ldt = in.ldt;
  out.gdt = in.gdt;
  out.idt = in.idt;
  out.cr0 = in.cr0;
  out.cr2 = in.cr2;
  out.cr3 = in.cr3;
  out.cr4 = in.cr4;
  out.cr8 = in.cr8;
  out.efer = in.efer;
  out.apic_base = in.apic_base;
  // interrupt_bitmap stays empty: with SREGS2 a pending external interrupt
  // is part of VCPU_EVENTS, which is restored last. The PDPTRs are lost; KVM
  // reloads them from CR3 (only PAE paging without EPT/NPT can notice).
  return out;
}

// MSRs KVM handles but does not list in KVM_GET_MSR_INDEX_LIST: the MTRRs
// (QEMU saves them by hand too). A guest kernel reads them at boot and when
// bringing CPUs up, and complains if they changed under it.
std::vector<std::uint32_t> unlisted_msrs() {
  std::vector<std::uint32_t> msrs;
  for (std::uint32_t index = 0x200; index < 0x210; ++index) {
    msrs.push_back(index);  // variable-range MTRR base/mask pairs (KVM has 8)
  }
  msrs.insert(msrs.end(), {0x250, 0x258, 0x259});  // fixed-range MTRRs
  for (std::uint32_t index = 0x268; index < 0x270; ++index) {
    msrs.push_back(index);
  }
  msrs.push_back(0x2ff);  // MTRRdefType
  return msrs;
}

}  // namespace

std::vector<std::uint32_t> msr_index_list(const std::string& device_path) {
  UniqueFd fd(::open(device_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    throw_ioctl_failure("opening " + device_path + " for KVM_GET_MSR_INDEX_LIST", errno);
  }
  // First ask with room for none: KVM answers E2BIG and the count it needs.
  std::uint32_t capacity = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::vector<std::uint32_t> buffer(1 + static_cast<std::size_t>(capacity), 0);
    buffer[0] = capacity;
    if (::ioctl(fd.get(), kGetMsrIndexList, buffer.data()) == 0) {
      const std::uint32_t count = std::min(buffer[0], capacity);
      return std::vector<std::uint32_t>(buffer.begin() + 1, buffer.begin() + 1 + count);
    }
    if (errno == EINTR || errno == EAGAIN) {
      continue;
    }
    if (errno != E2BIG) {
      throw_ioctl_failure("KVM_GET_MSR_INDEX_LIST", errno);
    }
    capacity = buffer[0];
    if (capacity > 16384) {  // KVM has a few hundred; more is nonsense
      throw_ioctl_failure("KVM_GET_MSR_INDEX_LIST", E2BIG);
    }
  }
  throw_ioctl_failure("KVM_GET_MSR_INDEX_LIST", E2BIG);
}

VcpuStateSupport probe_vcpu_state_support(const KvmSystem& system, const KvmVm& vm) {
  VcpuStateSupport support;
  support.sregs2 = vm.check_extension(KVM_CAP_SREGS2) > 0;
  support.xsave = vm.check_extension(KVM_CAP_XSAVE) > 0;
  if (support.xsave) {
    const int xsave2 = vm.check_extension(KVM_CAP_XSAVE2);
    support.xsave_size = xsave2 > 0 ? static_cast<std::size_t>(xsave2) : 0;
  }
  support.xcrs = vm.check_extension(KVM_CAP_XCRS) > 0;
  support.debugregs = vm.check_extension(KVM_CAP_DEBUGREGS) > 0;
  support.vcpu_events = vm.check_extension(KVM_CAP_VCPU_EVENTS) > 0;
  support.tsc_control = vm.check_extension(KVM_CAP_TSC_CONTROL) > 0;
  support.kvmclock_ctrl = vm.check_extension(KVM_CAP_KVMCLOCK_CTRL) > 0;
  support.msr_indices = msr_index_list(system.device_path());
  for (const std::uint32_t index : unlisted_msrs()) {
    if (std::find(support.msr_indices.begin(), support.msr_indices.end(), index) ==
        support.msr_indices.end()) {
      support.msr_indices.push_back(index);
    }
  }
  return support;
}

VcpuState save_vcpu_state(const KvmVcpu& vcpu, const VcpuStateSupport& support) {
  VcpuState state;
  state.mp_state = vcpu.get_mp_state();
  state.cpuid = vcpu.get_cpuid();
  state.regs = vcpu.get_regs();
  if (support.sregs2) {
    state.sregs2 = vcpu.get_sregs2();
  } else {
    state.sregs = vcpu.get_sregs();
  }
  if (support.xsave) {
    state.xsave = vcpu.get_xsave(support.xsave_size, support.xsave_size != 0);
  } else {
    state.fpu = vcpu.get_fpu();
  }
  if (support.xcrs) {
    state.xcrs = vcpu.get_xcrs();
  }
  if (support.debugregs) {
    state.debugregs = vcpu.get_debugregs();
  }
  state.lapic = vcpu.get_lapic();
  state.msrs = read_readable_msrs(vcpu, support.msr_indices);
  state.tsc_khz = vcpu.get_tsc_khz();
  if (support.vcpu_events) {
    state.events = vcpu.get_vcpu_events();
  }
  return state;
}

std::vector<kvm_msr_entry> msrs_in_restore_order(std::vector<kvm_msr_entry> msrs) {
  const auto rank = [](const kvm_msr_entry& entry) {
    if (entry.index == kMsrTsc) return 0;
    if (entry.index == kMsrTscDeadline) return 2;
    return 1;
  };
  std::stable_sort(msrs.begin(), msrs.end(),
                   [&](const kvm_msr_entry& a, const kvm_msr_entry& b) { return rank(a) < rank(b); });
  return msrs;
}

VcpuRestoreNotes restore_vcpu_state(KvmVcpu& vcpu, const VcpuState& state,
                                    const VcpuStateSupport& support) {
  VcpuRestoreNotes notes;
  if (state.sregs2.has_value() == state.sregs.has_value()) {
    throw_restore_failure("the state must hold exactly one of SREGS and SREGS2");
  }
  if (state.xsave.empty() == !state.fpu.has_value()) {
    throw_restore_failure("the state must hold exactly one of XSAVE and FPU");
  }

  // 0. CPUID.
  if (!state.cpuid.empty()) {
    vcpu.set_cpuid(state.cpuid);
  }
  // 1. TSC rate, before the TSC MSR.
  if (state.tsc_khz != 0) {
    const std::uint32_t current = vcpu.get_tsc_khz();
    if (current != state.tsc_khz) {
      const bool scaled = support.tsc_control && vcpu.set_tsc_khz(state.tsc_khz);
      notes.tsc_rate_differs = !scaled;
    }
  }
  // 2. REGS.
  vcpu.set_regs(state.regs);
  // 3. SREGS2 / SREGS.
  if (state.sregs2) {
    if (support.sregs2) {
      vcpu.set_sregs2(*state.sregs2);
    } else {
      vcpu.set_sregs(sregs_from_sregs2(*state.sregs2));
    }
  } else {
    vcpu.set_sregs(*state.sregs);
  }
  // 4. XSAVE / FPU, then XCRS.
  if (!state.xsave.empty()) {
    restore_xsave(vcpu, state, support);
  } else {
    vcpu.set_fpu(*state.fpu);
  }
  if (state.xcrs) {
    if (!support.xcrs) throw_restore_failure("this host's KVM lacks KVM_CAP_XCRS");
    vcpu.set_xcrs(*state.xcrs);
  }
  // 5. DEBUGREGS.
  if (state.debugregs) {
    if (!support.debugregs) throw_restore_failure("this host's KVM lacks KVM_CAP_DEBUGREGS");
    vcpu.set_debugregs(*state.debugregs);
  }
  // 6. MP_STATE.
  vcpu.set_mp_state(state.mp_state);
  // 7. LAPIC.
  vcpu.set_lapic(state.lapic);
  // 8. MSRs, TSC first and TSC_DEADLINE last. KVM_SET_MSRS stops at the
  // first MSR it refuses: note it, skip it, go on with the rest.
  const std::vector<kvm_msr_entry> ordered = msrs_in_restore_order(state.msrs);
  std::size_t next = 0;
  while (next < ordered.size()) {
    const std::span<const kvm_msr_entry> rest(ordered.data() + next, ordered.size() - next);
    const std::size_t written = std::min(vcpu.set_msrs(rest), rest.size());
    next += written;
    if (next < ordered.size()) {
      notes.refused_msrs.push_back(ordered[next].index);
      ++next;
    }
  }
  // 9. VCPU_EVENTS.
  if (state.events) {
    if (!support.vcpu_events) throw_restore_failure("this host's KVM lacks KVM_CAP_VCPU_EVENTS");
    // KVM_GET_VCPU_EVENTS reports which optional fields it filled (shadow,
    // SMM, ...); NMI_PENDING and SIPI_VECTOR are input-only flags that say
    // "take nmi.pending / sipi_vector too", without which KVM ignores them.
    kvm_vcpu_events events = *state.events;
    events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
    vcpu.set_vcpu_events(events);
  }
  // 10. Tell a kvmclock guest it was stopped (false when it has no kvmclock).
  if (support.kvmclock_ctrl) {
    vcpu.notify_kvmclock_paused();
  }
  return notes;
}

}  // namespace nestbox::kvm
