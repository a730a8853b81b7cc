#include "binding/js_errors.h"

#include <string>

#include "common/nestbox_error.h"
#include "kvm/kvm_problem.h"

namespace nestbox::binding {

Napi::Error to_js_error(Napi::Env env, const std::exception& error) {
  Napi::Error js_error = Napi::Error::New(env, error.what());
  if (const auto* nestbox_error = dynamic_cast<const NestboxError*>(&error)) {
    js_error.Set("code", std::string(error_code_name(nestbox_error->code())));
  }
  if (const auto* kvm_error = dynamic_cast<const kvm::KvmUnavailableError*>(&error)) {
    js_error.Set("kvmProblem", std::string(kvm::kvm_problem_name(kvm_error->problem())));
  }
  return js_error;
}

}  // namespace nestbox::binding
