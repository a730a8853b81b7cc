// Model-specific registers a vCPU starts with, as firmware leaves them on a
// real machine. The APIC base (BSP flag, enable) is KVM's to set per vCPU.
#pragma once

#include <cstdint>
#include <vector>

namespace nestbox::x86 {

namespace msr {
inline constexpr std::uint32_t kTsc = 0x10;
inline constexpr std::uint32_t kMiscEnable = 0x1a0;
inline constexpr std::uint32_t kSysenterCs = 0x174;
inline constexpr std::uint32_t kSysenterEsp = 0x175;
inline constexpr std::uint32_t kSysenterEip = 0x176;
inline constexpr std::uint32_t kPat = 0x277;
inline constexpr std::uint32_t kMtrrDefType = 0x2ff;
inline constexpr std::uint32_t kStar = 0xc0000081;
inline constexpr std::uint32_t kLstar = 0xc0000082;
inline constexpr std::uint32_t kCstar = 0xc0000083;
inline constexpr std::uint32_t kSyscallMask = 0xc0000084;
inline constexpr std::uint32_t kKernelGsBase = 0xc0000102;

inline constexpr std::uint64_t kMiscEnableFastStrings = 1u << 0;
inline constexpr std::uint64_t kPatPowerOnDefault = 0x0007040600070406ull;
inline constexpr std::uint64_t kMtrrTypeWriteBack = 6;
inline constexpr std::uint64_t kMtrrDefTypeEnable = 1u << 11;
}  // namespace msr

struct MsrValue {
  std::uint32_t index;
  std::uint64_t value;
};

// In the order they are to be written: TSC 0, fast strings, PAT power-on
// default, MTRRs enabled with write-back as the default type (so all RAM is
// cacheable without variable ranges), the syscall and sysenter MSRs cleared.
std::vector<MsrValue> boot_msrs();

}  // namespace nestbox::x86
