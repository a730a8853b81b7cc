// The KVM device (/dev/kvm): version and capability checks, and the factory
// for virtual machines. Opening it either yields a usable device or throws a
// KvmUnavailableError that says what the user should do.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace nestbox::kvm {

inline constexpr const char* kDefaultKvmDevicePath = "/dev/kvm";
inline constexpr int kRequiredApiVersion = KVM_API_VERSION;  // 12 since Linux 2.6.22

class KvmVm;

class KvmSystem {
 public:
  // Opens and validates the device: API version 12 and every required capability.
  static KvmSystem open(const std::string& device_path = kDefaultKvmDevicePath);

  [[nodiscard]] const std::string& device_path() const { return device_path_; }
  [[nodiscard]] int api_version() const { return api_version_; }
  // KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific value.
  [[nodiscard]] int check_extension(int capability) const;
  // Size of the per-vCPU kvm_run area that KVM_RUN reports exits through.
  [[nodiscard]] std::size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  [[nodiscard]] int max_vcpus() const;
  // KVM_GET_SUPPORTED_CPUID: what this host's KVM can present to a guest.
  [[nodiscard]] std::vector<kvm_cpuid_entry2> supported_cpuid() const;

  [[nodiscard]] KvmVm create_vm() const;

 private:
  KvmSystem(UniqueFd fd, std::string device_path, int api_version, std::size_t vcpu_mmap_size)
      : fd_(std::move(fd)),
        device_path_(std::move(device_path)),
        api_version_(api_version),
        vcpu_mmap_size_(vcpu_mmap_size) {}

  UniqueFd fd_;
  std::string device_path_;
  int api_version_;
  std::size_t vcpu_mmap_size_;
};

}  // namespace nestbox::kvm
