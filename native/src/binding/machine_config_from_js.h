// Parses the JS machine config object into MachineConfig once, on the JS
// thread, so nothing after it touches N-API. Type errors name the field.
#pragma once

#include <napi.h>

#include <vector>

#include "machine/machine_config.h"

namespace nestbox::binding {

MachineConfig machine_config_from_js(const Napi::Value& value);
// The `disks` field's format (undefined: none), also for restoreSnapshot.
std::vector<DiskConfig> disks_from_js(const Napi::Value& value);

}  // namespace nestbox::binding
