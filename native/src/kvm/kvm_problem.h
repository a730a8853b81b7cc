// Why KVM cannot be used, each with its own fix for the user. Mirrors
// `KvmProblem` in electron/common/host-info.ts.
#pragma once

#include <string>
#include <string_view>

#include "common/nestbox_error.h"

namespace nestbox::kvm {

enum class KvmProblem { Missing, Permission, ApiVersion, Capability, Error };

constexpr std::string_view kvm_problem_name(KvmProblem problem) {
  switch (problem) {
    case KvmProblem::Missing: return "missing";
    case KvmProblem::Permission: return "permission";
    case KvmProblem::ApiVersion: return "api-version";
    case KvmProblem::Capability: return "capability";
    case KvmProblem::Error: return "error";
  }
  return "error";
}

// Thrown when the KVM device cannot be used; `problem()` says which fix applies.
class KvmUnavailableError : public NestboxError {
 public:
  KvmUnavailableError(KvmProblem problem, const std::string& message)
      : NestboxError(ErrorCode::KvmUnavailable, message), problem_(problem) {}

  [[nodiscard]] KvmProblem problem() const { return problem_; }

 private:
  KvmProblem problem_;
};

// The one-line, actionable explanation of why open(device_path) failed with `error_number`.
KvmUnavailableError open_failure_error(std::string_view device_path, int error_number);

}  // namespace nestbox::kvm
