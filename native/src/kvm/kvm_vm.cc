#include "kvm/kvm_vm.h"

#include <linux/kvm.h>

#include "kvm/kvm_ioctl.h"

namespace nestbox::kvm {

void KvmVm::set_user_memory_region(std::uint32_t slot, std::uint64_t guest_physical_address,
                                   std::uint64_t size, void* host_address) const {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.flags = 0;
  region.guest_phys_addr = guest_physical_address;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<std::uint64_t>(host_address);
  checked_ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
}

void KvmVm::set_tss_address(std::uint64_t guest_physical_address) const {
  checked_ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(guest_physical_address),
                "KVM_SET_TSS_ADDR");
}

KvmVcpu KvmVm::create_vcpu(std::uint32_t vcpu_id) const {
  UniqueFd vcpu_fd(checked_ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(vcpu_id),
                                 "KVM_CREATE_VCPU"));
  return KvmVcpu(std::move(vcpu_fd), vcpu_mmap_size_);
}

}  // namespace nestbox::kvm
