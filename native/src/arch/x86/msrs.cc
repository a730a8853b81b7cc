#include "arch/x86/msrs.h"

namespace nestbox::x86 {

std::vector<MsrValue> boot_msrs() {
  return {
      {msr::kTsc, 0},
      {msr::kMiscEnable, msr::kMiscEnableFastStrings},
      {msr::kPat, msr::kPatPowerOnDefault},
      {msr::kMtrrDefType, msr::kMtrrDefTypeEnable | msr::kMtrrTypeWriteBack},
      {msr::kSysenterCs, 0},
      {msr::kSysenterEsp, 0},
      {msr::kSysenterEip, 0},
      {msr::kStar, 0},
      {msr::kLstar, 0},
      {msr::kCstar, 0},
      {msr::kSyscallMask, 0},
      {msr::kKernelGsBase, 0},
  };
}

}  // namespace nestbox::x86
