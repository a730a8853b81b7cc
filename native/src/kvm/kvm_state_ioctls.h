// Ioctl numbers for the state ioctls whose argument linux/kvm.h declares with
// __DECLARE_FLEX_ARRAY. In C++ that macro's empty struct member takes space,
// so sizeof(struct kvm_xsave) is 4100 instead of 4096 and sizeof(struct
// kvm_msr_list) 8 instead of 4; the size is encoded in the ioctl number and
// KVM then answers ENOTTY. (The same trap as kvm_cpuid2 and kvm_msrs: see
// kvm_cpuid_table.h and kvm_table_ioctls.h.) The numbers are spelled out here
// with the C ABI's sizes and checked against the values C compilers produce.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

#include "kvm/kvm_cpuid_table.h"

namespace nestbox::kvm {

// The fixed part of struct kvm_xsave: the legacy 4 KiB XSAVE area. With
// KVM_CAP_XSAVE2 the buffer is larger (KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) on
// the VM fd says how large) and KVM_GET_XSAVE2 / KVM_SET_XSAVE use all of it.
inline constexpr std::size_t kLegacyXsaveSize = 4096;
struct XsaveLegacyArea {
  std::uint32_t region[kLegacyXsaveSize / 4];
};
static_assert(sizeof(XsaveLegacyArea) == 4096);

// struct kvm_msr_list's header as C lays it out: nmsrs, then the indices.
struct MsrListHeader {
  std::uint32_t count;
};
static_assert(sizeof(MsrListHeader) == 4);

inline constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, XsaveLegacyArea);
inline constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, XsaveLegacyArea);
inline constexpr unsigned long kGetXsave2 = _IOR(KVMIO, 0xcf, XsaveLegacyArea);
inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
// KVM_GET_CPUID2: the CPUID table a vCPU was given (kvm_cpuid2, like KVM_SET_CPUID2).
inline constexpr unsigned long kGetCpuid2 = _IOWR(KVMIO, 0x91, CpuidTableHeader);
static_assert(kGetXsave == 0x9000aea4ul && kSetXsave == 0x5000aea5ul && kGetXsave2 == 0x9000aecful &&
              kGetMsrIndexList == 0xc004ae02ul && kGetCpuid2 == 0xc008ae91ul);

}  // namespace nestbox::kvm
