#include "kvm/kvm_problem.h"

#include <cerrno>
#include <cstring>

namespace nestbox::kvm {

KvmUnavailableError open_failure_error(std::string_view device_path, int error_number) {
  const std::string path(device_path);
  switch (error_number) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      // ENODEV/ENXIO: the device node exists but no KVM module is bound to it.
      return KvmUnavailableError(
          KvmProblem::Missing,
          path + " not found — enable virtualization (VT-x/AMD-V) in the firmware and load "
                 "kvm_intel or kvm_amd");
    case EACCES:
    case EPERM:
      return KvmUnavailableError(
          KvmProblem::Permission,
          path + ": permission denied — add your user to the kvm group (sudo usermod -aG kvm "
                 "$USER) and log in again");
    default:
      return KvmUnavailableError(KvmProblem::Error,
                                 path + ": cannot open: " + std::strerror(error_number));
  }
}

}  // namespace nestbox::kvm
