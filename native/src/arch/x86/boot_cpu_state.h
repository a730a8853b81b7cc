// Everything the boot vCPU's registers must hold at the first instruction of
// a directly booted kernel, independent of how KVM represents it.
#pragma once

#include <cstdint>

#include "arch/x86/long_mode_setup.h"

namespace nestbox::x86 {

inline constexpr std::uint64_t kRflagsReservedBit1 = 1ull << 1;  // always reads as 1

struct BootCpuState {
  LongModeState mode;
  std::uint64_t rip;
  std::uint64_t rsp;
  std::uint64_t rsi;  // 64-bit boot protocol: the boot_params address
  std::uint64_t rflags;  // interrupts disabled
};

}  // namespace nestbox::x86
