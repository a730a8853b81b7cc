// The sections every machine-state file holds, whatever devices the machine
// has. The machine layer appends one SectionSpec per device it saves.
#pragma once

#include <vector>

#include "snapshot/kvm_state_codec.h"
#include "snapshot/ram_file.h"
#include "snapshot/state_file.h"

namespace nestbox::snapshot {

inline std::vector<SectionSpec> core_section_specs() {
  return {
      {kRamSectionTag, "guest RAM layout", true, 1, kRamSectionVersion},
      {kVcpuSectionTag, "vCPU state", true, 1, kVcpuSectionVersion},
      {kKvmVmSectionTag, "interrupt controllers, PIT and clock", true, 1, kKvmVmSectionVersion},
  };
}

}  // namespace nestbox::snapshot
