#include "kvm/kvm_probe.h"

#include <exception>

#include "kvm/kvm_system.h"

namespace nestbox::kvm {

KvmProbeResult probe_kvm(const std::string& device_path) {
  KvmProbeResult result;
  result.device_path = device_path;
  try {
    const KvmSystem system = KvmSystem::open(device_path);
    result.ok = true;
    result.api_version = system.api_version();
  } catch (const KvmUnavailableError& error) {
    result.problem = error.problem();
    result.message = error.what();
  } catch (const std::exception& error) {
    result.problem = KvmProblem::Error;
    result.message = device_path + ": " + error.what();
  }
  return result;
}

}  // namespace nestbox::kvm
