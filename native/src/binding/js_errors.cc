#include "binding/js_errors.h"

#include <string>

#include "block/disk_image_error.h"
#include "common/nestbox_error.h"
#include "kvm/kvm_problem.h"
#include "net/net_error.h"
#include "snapshot/snapshot_error.h"

namespace nestbox::binding {

Napi::Error to_js_error(Napi::Env env, const std::exception& error) {
  Napi::Error js_error = Napi::Error::New(env, error.what());
  if (const auto* net_error = dynamic_cast<const net::NetError*>(&error)) {
    js_error.Set("code", std::string(net::net_error_kind_name(net_error->kind())));
  } else if (const auto* snapshot_error = dynamic_cast<const snapshot::SnapshotError*>(&error)) {
    // One code for "this snapshot cannot be used"; snapshotProblem says why.
    js_error.Set("code", std::string("SNAPSHOT_UNUSABLE"));
    js_error.Set("snapshotProblem",
                 std::string(snapshot::snapshot_problem_name(snapshot_error->problem())));
  } else if (const auto* nestbox_error = dynamic_cast<const NestboxError*>(&error)) {
    js_error.Set("code", std::string(error_code_name(nestbox_error->code())));
  } else if (const auto* image_error = dynamic_cast<const block::DiskImageError*>(&error)) {
    js_error.Set("code", std::string(block::disk_image_error_code_name(image_error->code())));
  }
  if (const auto* kvm_error = dynamic_cast<const kvm::KvmUnavailableError*>(&error)) {
    js_error.Set("kvmProblem", std::string(kvm::kvm_problem_name(kvm_error->problem())));
  }
  return js_error;
}

}  // namespace nestbox::binding
