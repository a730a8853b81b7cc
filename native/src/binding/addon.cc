// The `nestbox` native addon: probeKvm, Machine and version.
#include <napi.h>

#include "binding/disk_image_binding.h"
#include "binding/machine_wrap.h"
#include "binding/probe_kvm_binding.h"
#include "devices/input/key_codes.h"

#ifndef NESTBOX_VERSION
#error "NESTBOX_VERSION must be defined by the build (binding.gyp)"
#endif

namespace {

// At file scope: NODE_API_MODULE pastes this name into an identifier.
Napi::Object init_nestbox_addon(Napi::Env env, Napi::Object exports) {
  using namespace nestbox::binding;
  exports.Set("probeKvm", Napi::Function::New<probe_kvm>(env, "probeKvm"));
  exports.Set("Machine", MachineWrap::define_class(env));
  register_disk_image_binding(env, exports);
  // Every KeyboardEvent.code the machine's keyboards understand.
  exports.Set("keyCodeNames", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    const auto names = nestbox::input::key_code_names();
    Napi::Array array = Napi::Array::New(info.Env(), names.size());
    for (std::uint32_t i = 0; i < names.size(); ++i) {
      array.Set(i, Napi::String::New(info.Env(), std::string(names[i])));
    }
    return array;
  }, "keyCodeNames"));
  exports.Set("describeSnapshot",
              Napi::Function::New(env, nestbox::binding::describe_snapshot_js, "describeSnapshot"));
  exports.Set("version", Napi::String::New(env, NESTBOX_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(nestbox, init_nestbox_addon)
