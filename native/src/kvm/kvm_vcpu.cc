#include "kvm/kvm_vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <utility>

#include "kvm/kvm_cpuid_table.h"
#include "common/nestbox_error.h"
#include "kvm/kvm_ioctl.h"
#include "kvm/kvm_state_ioctls.h"
#include "kvm/kvm_table_ioctls.h"

namespace nestbox::kvm {

KvmVcpu::KvmVcpu(UniqueFd fd, std::size_t run_area_size)
    : fd_(std::move(fd)), run_area_size_(run_area_size) {
  void* mapping =
      ::mmap(nullptr, run_area_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (mapping == MAP_FAILED) {
    throw_ioctl_failure("mmap of the vCPU kvm_run area", errno);
  }
  run_ = static_cast<kvm_run*>(mapping);
}

KvmVcpu::~KvmVcpu() {
  if (run_ != nullptr) {
    ::munmap(run_, run_area_size_);
  }
}

KvmVcpu::KvmVcpu(KvmVcpu&& other) noexcept
    : fd_(std::move(other.fd_)),
      run_(std::exchange(other.run_, nullptr)),
      run_area_size_(std::exchange(other.run_area_size_, 0)) {}

RunOutcome KvmVcpu::run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) {
    return RunOutcome::Exited;
  }
  if (errno == EINTR || errno == EAGAIN) {
    return RunOutcome::Interrupted;
  }
  throw_ioctl_failure("KVM_RUN", errno);
}

std::span<std::uint8_t> KvmVcpu::run_area_bytes() {
  return {reinterpret_cast<std::uint8_t*>(run_), run_area_size_};
}

void KvmVcpu::set_immediate_exit(bool value) {
  // Another thread writes this while KVM_RUN may be reading it: a relaxed
  // atomic store through atomic_ref keeps that well defined.
  std::atomic_ref<std::uint8_t>(run_->immediate_exit)
      .store(value ? 1 : 0, std::memory_order_release);
}

kvm_regs KvmVcpu::get_regs() const {
  kvm_regs regs{};
  checked_ioctl(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS");
  return regs;
}

void KvmVcpu::set_regs(const kvm_regs& regs) const {
  checked_ioctl(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

kvm_sregs KvmVcpu::get_sregs() const {
  kvm_sregs sregs{};
  checked_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  return sregs;
}

void KvmVcpu::set_sregs(const kvm_sregs& sregs) const {
  checked_ioctl(fd_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}

void KvmVcpu::set_cpuid(std::span<const kvm_cpuid_entry2> entries) const {
  CpuidTableBuffer table(static_cast<std::uint32_t>(entries.size()));
  std::copy(entries.begin(), entries.end(), table.entries());
  checked_ioctl(fd_.get(), kSetCpuid2, table.data(), "KVM_SET_CPUID2");
}

std::uint32_t KvmVcpu::get_mp_state() const {
  kvm_mp_state state{};
  checked_ioctl(fd_.get(), KVM_GET_MP_STATE, &state, "KVM_GET_MP_STATE");
  return state.mp_state;
}

void KvmVcpu::set_mp_state(std::uint32_t value) const {
  kvm_mp_state state{};
  state.mp_state = value;
  checked_ioctl(fd_.get(), KVM_SET_MP_STATE, &state, "KVM_SET_MP_STATE");
}

kvm_lapic_state KvmVcpu::get_lapic() const {
  kvm_lapic_state lapic{};
  checked_ioctl(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
  return lapic;
}

void KvmVcpu::set_lapic(const kvm_lapic_state& lapic) const {
  checked_ioctl(fd_.get(), KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

std::size_t KvmVcpu::set_msrs(std::span<const kvm_msr_entry> entries) const {
  KvmTable<kvm_msr_entry> table(entries);
  return static_cast<std::size_t>(checked_ioctl(fd_.get(), kSetMsrs, table.data(), "KVM_SET_MSRS"));
}

std::size_t KvmVcpu::get_msrs(std::span<kvm_msr_entry> entries) const {
  KvmTable<kvm_msr_entry> table(entries);
  const auto count =
      static_cast<std::size_t>(checked_ioctl(fd_.get(), kGetMsrs, table.data(), "KVM_GET_MSRS"));
  for (std::size_t i = 0; i < count && i < entries.size(); ++i) {
    entries[i] = table.entry(i);
  }
  return count;
}

bool KvmVcpu::notify_kvmclock_paused() const {
  for (;;) {
    if (::ioctl(fd_.get(), KVM_KVMCLOCK_CTRL, 0) == 0) {
      return true;
    }
    if (errno != EINTR && errno != EAGAIN) {
      return false;
    }
  }
}

RunOutcome KvmVcpu::complete_pending_exit() {
  const bool previous = std::atomic_ref<std::uint8_t>(run_->immediate_exit).load() != 0;
  set_immediate_exit(true);
  RunOutcome outcome;
  try {
    outcome = run();
  } catch (...) {
    set_immediate_exit(previous);
    throw;
  }
  set_immediate_exit(previous);
  return outcome;
}

std::vector<kvm_cpuid_entry2> KvmVcpu::get_cpuid() const {
  // Grow the table until KVM stops answering E2BIG (it holds at most a few hundred).
  for (std::uint32_t capacity = 64; capacity <= 4096; capacity *= 2) {
    CpuidTableBuffer table(capacity);
    if (::ioctl(fd_.get(), kGetCpuid2, table.data()) == 0) {
      const std::uint32_t count = std::min(table.header()->entry_count, capacity);
      return std::vector<kvm_cpuid_entry2>(table.entries(), table.entries() + count);
    }
    if (errno == EINTR || errno == EAGAIN) {
      capacity /= 2;  // same size again
      continue;
    }
    if (errno != E2BIG) {
      throw_ioctl_failure("KVM_GET_CPUID2", errno);
    }
  }
  throw_ioctl_failure("KVM_GET_CPUID2", E2BIG);
}

kvm_sregs2 KvmVcpu::get_sregs2() const {
  kvm_sregs2 sregs{};
  checked_ioctl(fd_.get(), KVM_GET_SREGS2, &sregs, "KVM_GET_SREGS2");
  return sregs;
}

void KvmVcpu::set_sregs2(const kvm_sregs2& sregs) const {
  checked_ioctl(fd_.get(), KVM_SET_SREGS2, &sregs, "KVM_SET_SREGS2");
}

kvm_fpu KvmVcpu::get_fpu() const {
  kvm_fpu fpu{};
  checked_ioctl(fd_.get(), KVM_GET_FPU, &fpu, "KVM_GET_FPU");
  return fpu;
}

void KvmVcpu::set_fpu(const kvm_fpu& fpu) const {
  checked_ioctl(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

std::vector<std::uint8_t> KvmVcpu::get_xsave(std::size_t size, bool use_xsave2) const {
  if (!use_xsave2) {
    size = kLegacyXsaveSize;
  }
  if (size < kLegacyXsaveSize) {
    throw NestboxError(ErrorCode::KvmFailure, "KVM_GET_XSAVE2: a buffer of " +
                                                  std::to_string(size) +
                                                  " bytes is smaller than the 4096-byte minimum");
  }
  std::vector<std::uint8_t> area(size, 0);
  if (use_xsave2) {
    checked_ioctl(fd_.get(), kGetXsave2, area.data(), "KVM_GET_XSAVE2");
  } else {
    checked_ioctl(fd_.get(), kGetXsave, area.data(), "KVM_GET_XSAVE");
  }
  return area;
}

void KvmVcpu::set_xsave(std::span<const std::uint8_t> area) const {
  if (area.size() < kLegacyXsaveSize) {
    throw NestboxError(ErrorCode::KvmFailure, "KVM_SET_XSAVE: an area of " +
                                                  std::to_string(area.size()) +
                                                  " bytes is smaller than the 4096-byte minimum");
  }
  checked_ioctl(fd_.get(), kSetXsave, area.data(), "KVM_SET_XSAVE");
}

kvm_xcrs KvmVcpu::get_xcrs() const {
  kvm_xcrs xcrs{};
  checked_ioctl(fd_.get(), KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS");
  return xcrs;
}

void KvmVcpu::set_xcrs(const kvm_xcrs& xcrs) const {
  checked_ioctl(fd_.get(), KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS");
}

kvm_vcpu_events KvmVcpu::get_vcpu_events() const {
  kvm_vcpu_events events{};
  checked_ioctl(fd_.get(), KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS");
  return events;
}

void KvmVcpu::set_vcpu_events(const kvm_vcpu_events& events) const {
  checked_ioctl(fd_.get(), KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
}

kvm_debugregs KvmVcpu::get_debugregs() const {
  kvm_debugregs debugregs{};
  checked_ioctl(fd_.get(), KVM_GET_DEBUGREGS, &debugregs, "KVM_GET_DEBUGREGS");
  return debugregs;
}

void KvmVcpu::set_debugregs(const kvm_debugregs& debugregs) const {
  checked_ioctl(fd_.get(), KVM_SET_DEBUGREGS, &debugregs, "KVM_SET_DEBUGREGS");
}

std::uint32_t KvmVcpu::get_tsc_khz() const {
  // The frequency is the ioctl's result; EIO means KVM does not know it.
  for (;;) {
    const int result = ::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
    if (result >= 0) {
      return static_cast<std::uint32_t>(result);
    }
    if (errno != EINTR && errno != EAGAIN) {
      return 0;
    }
  }
}

bool KvmVcpu::set_tsc_khz(std::uint32_t khz) const {
  for (;;) {
    if (::ioctl(fd_.get(), KVM_SET_TSC_KHZ, static_cast<unsigned long>(khz)) == 0) {
      return true;
    }
    if (errno != EINTR && errno != EAGAIN) {
      return false;
    }
  }
}

}  // namespace nestbox::kvm
