// probeKvm(devicePath?) → KvmStatus (electron/common/host-info.ts).
#pragma once

#include <napi.h>

namespace nestbox::binding {

Napi::Value probe_kvm(const Napi::CallbackInfo& info);

}  // namespace nestbox::binding
