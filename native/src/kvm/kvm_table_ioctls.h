// Ioctls whose argument is an 8-byte header followed by a flexible array
// (struct kvm_irq_routing, struct kvm_msrs). As with kvm_cpuid2 (see
// kvm_cpuid_table.h), linux/kvm.h declares these with __DECLARE_FLEX_ARRAY,
// which C++ sizes as 16 bytes instead of 8; the size is encoded in the ioctl
// number and KVM then rejects the call. So the numbers are spelled out here
// with the C ABI's header size, and the tables are built in plain storage.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace nestbox::kvm {

struct TableHeader {
  std::uint32_t count;  // nr / nmsrs
  std::uint32_t flags;  // flags / pad: always zero here
};
static_assert(sizeof(TableHeader) == 8, "the C layout of kvm_irq_routing / kvm_msrs headers");

inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, TableHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, TableHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, TableHeader);
static_assert(kSetGsiRouting == 0x4008ae6aul && kGetMsrs == 0xc008ae88ul &&
              kSetMsrs == 0x4008ae89ul);

// A header plus `entries`, in 8-byte aligned storage, ready for the ioctl.
template <typename Entry>
class KvmTable {
 public:
  explicit KvmTable(std::span<const Entry> entries)
      : storage_((sizeof(TableHeader) + entries.size() * sizeof(Entry) + 7) / 8) {
    TableHeader header{static_cast<std::uint32_t>(entries.size()), 0};
    std::memcpy(storage_.data(), &header, sizeof header);
    if (!entries.empty()) {
      std::memcpy(bytes() + sizeof(TableHeader), entries.data(), entries.size_bytes());
    }
  }

  [[nodiscard]] void* data() { return storage_.data(); }
  [[nodiscard]] Entry entry(std::size_t index) const {
    Entry value;
    std::memcpy(&value, bytes() + sizeof(TableHeader) + index * sizeof(Entry), sizeof(Entry));
    return value;
  }

 private:
  [[nodiscard]] std::uint8_t* bytes() const {
    return reinterpret_cast<std::uint8_t*>(const_cast<std::uint64_t*>(storage_.data()));
  }
  std::vector<std::uint64_t> storage_;
};

}  // namespace nestbox::kvm
