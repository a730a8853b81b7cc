#include "kvm/kvm_vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include "kvm/kvm_cpuid_table.h"
#include "kvm/kvm_ioctl.h"
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

}  // namespace nestbox::kvm
