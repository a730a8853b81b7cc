// The CPUID table KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2 exchange: an
// 8-byte header followed by entries. linux/kvm.h declares it with
// __DECLARE_FLEX_ARRAY, which some header versions expand, in C++, to a
// struct 12 bytes long; that changes the size encoded in the ioctl numbers
// and KVM rejects them with EINVAL. So the layout and the two ioctl numbers
// are spelled out here with the C ABI's sizes.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

namespace nestbox::kvm {

struct CpuidTableHeader {
  std::uint32_t entry_count;
  std::uint32_t padding;
};
static_assert(sizeof(CpuidTableHeader) == 8, "the C layout of struct kvm_cpuid2's header");

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidTableHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidTableHeader);

// A header plus room for `capacity` entries, in 8-byte aligned storage.
class CpuidTableBuffer {
 public:
  explicit CpuidTableBuffer(std::uint32_t capacity)
      : storage_((sizeof(CpuidTableHeader) + capacity * sizeof(kvm_cpuid_entry2) + 7) / 8) {
    header()->entry_count = capacity;
  }

  [[nodiscard]] void* data() { return storage_.data(); }
  [[nodiscard]] CpuidTableHeader* header() {
    return reinterpret_cast<CpuidTableHeader*>(storage_.data());
  }
  [[nodiscard]] kvm_cpuid_entry2* entries() {
    return reinterpret_cast<kvm_cpuid_entry2*>(reinterpret_cast<std::uint8_t*>(storage_.data()) +
                                               sizeof(CpuidTableHeader));
  }

 private:
  std::vector<std::uint64_t> storage_;
};

}  // namespace nestbox::kvm
