// probeKvm: can this host run VMs? Expected failures come back as data, not
// exceptions, because the host check screen shows them to the user.
#pragma once

#include <string>

#include "kvm/kvm_problem.h"

namespace nestbox::kvm {

struct KvmProbeResult {
  bool ok = false;
  std::string device_path;
  int api_version = 0;                    // when ok
  KvmProblem problem = KvmProblem::Error; // when !ok
  std::string message;                    // when !ok: one actionable line
};

KvmProbeResult probe_kvm(const std::string& device_path);

}  // namespace nestbox::kvm
