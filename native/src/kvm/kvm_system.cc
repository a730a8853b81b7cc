#include "kvm/kvm_system.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "kvm/kvm_cpuid_table.h"
#include "kvm/kvm_ioctl.h"
#include "kvm/kvm_problem.h"
#include "kvm/kvm_vm.h"
#include "kvm/required_capabilities.h"

namespace nestbox::kvm {

KvmSystem KvmSystem::open(const std::string& device_path) {
  UniqueFd fd(::open(device_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    throw open_failure_error(device_path, errno);
  }

  const int api_version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (api_version < 0) {
    // Opened fine but answers no KVM ioctl: some other file or device.
    throw KvmUnavailableError(KvmProblem::Error, device_path + " is not a KVM device (" +
                                                     std::strerror(errno) + ")");
  }
  if (api_version != kRequiredApiVersion) {
    throw KvmUnavailableError(
        KvmProblem::ApiVersion,
        device_path + ": KVM API version " + std::to_string(api_version) +
            ", Nestbox needs version " + std::to_string(kRequiredApiVersion) +
            " — the host kernel's KVM is incompatible; update the kernel");
  }

  std::string missing;
  for (const RequiredCapability& capability : required_capabilities()) {
    if (::ioctl(fd.get(), KVM_CHECK_EXTENSION, capability.id) <= 0) {
      if (!missing.empty()) {
        missing += ", ";
      }
      missing += std::string(capability.name) + " (" + std::string(capability.purpose) + ")";
    }
  }
  if (!missing.empty()) {
    throw KvmUnavailableError(KvmProblem::Capability,
                              device_path + " lacks required capabilities: " + missing +
                                  " — use a host kernel with full KVM support");
  }

  const int mmap_size = checked_ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  if (static_cast<std::size_t>(mmap_size) < sizeof(kvm_run)) {
    throw KvmUnavailableError(KvmProblem::Error,
                              device_path + ": KVM reports a vCPU area smaller than kvm_run");
  }
  return KvmSystem(std::move(fd), device_path, api_version, static_cast<std::size_t>(mmap_size));
}

int KvmSystem::check_extension(int capability) const {
  const int result = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return result < 0 ? 0 : result;
}

int KvmSystem::max_vcpus() const {
  // KVM_CAP_MAX_VCPUS may be absent on old kernels; KVM_CAP_NR_VCPUS is the
  // recommended maximum then, and 4 is what the API documents as the floor.
  if (const int max = check_extension(KVM_CAP_MAX_VCPUS); max > 0) {
    return max;
  }
  if (const int recommended = check_extension(KVM_CAP_NR_VCPUS); recommended > 0) {
    return recommended;
  }
  return 4;
}

std::vector<kvm_cpuid_entry2> KvmSystem::supported_cpuid() const {
  // Grow the table until KVM stops answering E2BIG.
  for (std::uint32_t capacity = 128; capacity <= 4096; capacity *= 2) {
    CpuidTableBuffer table(capacity);
    if (::ioctl(fd_.get(), kGetSupportedCpuid, table.data()) == 0) {
      const std::uint32_t count = std::min(table.header()->entry_count, capacity);
      return std::vector<kvm_cpuid_entry2>(table.entries(), table.entries() + count);
    }
    if (errno != E2BIG) {
      throw_ioctl_failure("KVM_GET_SUPPORTED_CPUID", errno);
    }
  }
  throw_ioctl_failure("KVM_GET_SUPPORTED_CPUID", E2BIG);
}

KvmVm KvmSystem::create_vm() const {
  // Machine type 0: the default x86 VM.
  UniqueFd vm_fd(checked_ioctl(fd_.get(), KVM_CREATE_VM, 0, "KVM_CREATE_VM"));
  return KvmVm(std::move(vm_fd), vcpu_mmap_size_);
}

}  // namespace nestbox::kvm
