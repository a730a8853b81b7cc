#include "binding/probe_kvm_binding.h"

#include <string>

#include "kvm/kvm_probe.h"
#include "kvm/kvm_system.h"

namespace nestbox::binding {

Napi::Value probe_kvm(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  std::string device_path = kvm::kDefaultKvmDevicePath;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString() || info[0].As<Napi::String>().Utf8Value().empty()) {
      throw Napi::TypeError::New(env, "probeKvm: devicePath must be a non-empty string");
    }
    device_path = info[0].As<Napi::String>().Utf8Value();
  }

  // Opening a device node is quick and bounded, so this runs on the JS thread.
  const kvm::KvmProbeResult result = kvm::probe_kvm(device_path);
  Napi::Object status = Napi::Object::New(env);
  status.Set("ok", result.ok);
  status.Set("devicePath", result.device_path);
  if (result.ok) {
    status.Set("apiVersion", result.api_version);
  } else {
    status.Set("problem", std::string(kvm::kvm_problem_name(result.problem)));
    status.Set("message", result.message);
  }
  return status;
}

}  // namespace nestbox::binding
