// A KVM virtual machine fd: memory slots, VM-wide setup, and vCPU creation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/unique_fd.h"
#include "kvm/kvm_vcpu.h"

namespace nestbox::kvm {

class KvmVm {
 public:
  KvmVm(UniqueFd fd, std::size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

  // Maps [guest_physical_address, +size) of guest memory onto host memory at `host_address`.
  void set_user_memory_region(std::uint32_t slot, std::uint64_t guest_physical_address,
                              std::uint64_t size, void* host_address) const;
  // Intel VMX needs a 3-page region for its real-mode TSS; harmless elsewhere.
  void set_tss_address(std::uint64_t guest_physical_address) const;
  [[nodiscard]] KvmVcpu create_vcpu(std::uint32_t vcpu_id) const;

  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::size_t vcpu_mmap_size_;
};

}  // namespace nestbox::kvm
