#include "arch/x86/cpuid.h"

#include <asm/kvm_para.h>

#include <algorithm>
#include <cstring>

namespace nestbox::x86 {

namespace {

constexpr std::uint32_t kLeafVendor = 0x0;
constexpr std::uint32_t kLeafFeatures = 0x1;
constexpr std::uint32_t kLeafCacheParameters = 0x4;
constexpr std::uint32_t kLeafTopology = 0xb;
constexpr std::uint32_t kLeafTopologyV2 = 0x1f;
constexpr std::uint32_t kLeafExtendedFeatures = 0x80000001;
constexpr std::uint32_t kLeafAddressSizes = 0x80000008;
constexpr std::uint32_t kLeafAmdTopology = 0x8000001e;

constexpr std::uint32_t kEcxHypervisor = 1u << 31;  // leaf 1
constexpr std::uint32_t kEdxHtt = 1u << 28;         // leaf 1: "more than one logical CPU"
constexpr std::uint32_t kEcxCmpLegacy = 1u << 1;    // 0x80000001 (AMD)

// Leaf 0xB/0x1F level types (ECX[15:8]).
constexpr std::uint32_t kLevelSmt = 1;
constexpr std::uint32_t kLevelCore = 2;

kvm_cpuid_entry2 make_entry(std::uint32_t function, std::uint32_t index, std::uint32_t flags) {
  kvm_cpuid_entry2 entry{};
  entry.function = function;
  entry.index = index;
  entry.flags = flags;
  return entry;
}

// Leaf 0xB or 0x1F: SMT level (1 thread per core), core level (every vCPU),
// then the invalid level that ends the list.
std::vector<kvm_cpuid_entry2> topology_leaf(std::uint32_t function, const CpuTopology& topology,
                                            std::uint32_t apic_id) {
  std::vector<kvm_cpuid_entry2> levels;
  kvm_cpuid_entry2 smt = make_entry(function, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  smt.eax = 0;  // no APIC ID bits for threads
  smt.ebx = 1;
  smt.ecx = 0 | (kLevelSmt << 8);
  smt.edx = apic_id;
  levels.push_back(smt);
  kvm_cpuid_entry2 core = make_entry(function, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  core.eax = topology.core_id_bits();
  core.ebx = topology.cpu_count;
  core.ecx = 1 | (kLevelCore << 8);
  core.edx = apic_id;
  levels.push_back(core);
  kvm_cpuid_entry2 end = make_entry(function, 2, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  end.ecx = 2;  // level type 0: invalid
  end.edx = apic_id;
  levels.push_back(end);
  return levels;
}

std::uint32_t max_basic_leaf(std::span<const kvm_cpuid_entry2> entries) {
  const auto leaf0 = find_cpuid_entry(entries, kLeafVendor);
  return leaf0 ? leaf0->eax : 0;
}

}  // namespace

std::uint32_t CpuTopology::core_id_bits() const {
  std::uint32_t bits = 0;
  while ((1u << bits) < cpu_count) {
    ++bits;
  }
  return bits;
}

std::uint32_t wanted_kvm_features() {
  return (1u << KVM_FEATURE_CLOCKSOURCE) | (1u << KVM_FEATURE_NOP_IO_DELAY) |
         (1u << KVM_FEATURE_CLOCKSOURCE2) | (1u << KVM_FEATURE_STEAL_TIME) |
         (1u << KVM_FEATURE_PV_EOI) | (1u << KVM_FEATURE_PV_UNHALT) |
         (1u << KVM_FEATURE_PV_TLB_FLUSH) | (1u << KVM_FEATURE_PV_SEND_IPI) |
         (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
}

std::optional<kvm_cpuid_entry2> find_cpuid_entry(std::span<const kvm_cpuid_entry2> entries,
                                                 std::uint32_t function, std::uint32_t index) {
  for (const kvm_cpuid_entry2& entry : entries) {
    if (entry.function == function &&
        ((entry.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) == 0 || entry.index == index)) {
      return entry;
    }
  }
  return std::nullopt;
}

bool is_amd_like(std::span<const kvm_cpuid_entry2> entries) {
  const auto leaf0 = find_cpuid_entry(entries, kLeafVendor);
  if (!leaf0) {
    return false;
  }
  char vendor[12];
  std::memcpy(vendor, &leaf0->ebx, 4);
  std::memcpy(vendor + 4, &leaf0->edx, 4);
  std::memcpy(vendor + 8, &leaf0->ecx, 4);
  return std::memcmp(vendor, "AuthenticAMD", 12) == 0 ||
         std::memcmp(vendor, "HygonGenuine", 12) == 0;
}

std::vector<kvm_cpuid_entry2> guest_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                          const CpuTopology& topology, std::uint32_t apic_id) {
  const bool amd = is_amd_like(supported);
  const std::uint32_t max_leaf = max_basic_leaf(supported);
  const std::uint32_t core_bits = topology.core_id_bits();
  const bool multi = topology.cpu_count > 1;
  std::uint32_t host_kvm_features = wanted_kvm_features();
  if (const auto features = find_cpuid_entry(supported, KVM_CPUID_FEATURES)) {
    host_kvm_features = features->eax;
  }

  std::vector<kvm_cpuid_entry2> entries;
  for (kvm_cpuid_entry2 entry : supported) {
    switch (entry.function) {
      case kLeafFeatures:
        // EBX[31:24] initial APIC ID, [23:16] addressable logical CPU IDs.
        entry.ebx = (entry.ebx & 0x0000ffffu) | (apic_id << 24) |
                    ((multi ? (1u << core_bits) : 1u) << 16);
        entry.ecx |= kEcxHypervisor;
        entry.edx = multi ? entry.edx | kEdxHtt : entry.edx & ~kEdxHtt;
        break;
      case kLeafCacheParameters: {
        // EAX[31:26] cores per package - 1; [25:14] CPUs sharing the cache - 1:
        // one for the per-core L1/L2, every core for L3.
        const std::uint32_t level = (entry.eax >> 5) & 7;
        const std::uint32_t sharing = level >= 3 ? (1u << core_bits) - 1 : 0;
        entry.eax = (entry.eax & 0x3fffu) | (sharing << 14) |
                    ((entry.eax & 0x1f) != 0 ? (((1u << core_bits) - 1) << 26) : 0);
        break;
      }
      case kLeafTopology:
      case kLeafTopologyV2:
        continue;  // rebuilt below
      case kLeafExtendedFeatures:
        if (amd) {
          entry.ecx = multi ? entry.ecx | kEcxCmpLegacy : entry.ecx & ~kEcxCmpLegacy;
        }
        break;
      case kLeafAddressSizes:
        if (amd) {
          // ECX[7:0] cores - 1, [15:12] APIC ID bits for the core.
          entry.ecx = (entry.ecx & ~0xf0ffu) | (topology.cpu_count - 1) | (core_bits << 12);
        }
        break;
      case kLeafAmdTopology:
        entry.eax = apic_id;  // extended APIC ID
        entry.ebx = (entry.ebx & ~0xffffu) | (apic_id & 0xff);  // core ID; 1 thread per core
        entry.ecx = entry.ecx & ~0x7ffu;  // node 0, one node per socket
        break;
      case KVM_CPUID_SIGNATURE:
      case KVM_CPUID_FEATURES:
        continue;  // rebuilt below
      default:
        break;
    }
    entries.push_back(entry);
  }

  if (max_leaf >= kLeafTopology) {
    const auto levels = topology_leaf(kLeafTopology, topology, apic_id);
    entries.insert(entries.end(), levels.begin(), levels.end());
  }
  if (max_leaf >= kLeafTopologyV2) {
    const auto levels = topology_leaf(kLeafTopologyV2, topology, apic_id);
    entries.insert(entries.end(), levels.begin(), levels.end());
  }

  kvm_cpuid_entry2 signature = make_entry(KVM_CPUID_SIGNATURE, 0, 0);
  signature.eax = KVM_CPUID_FEATURES;  // the highest hypervisor leaf
  std::memcpy(&signature.ebx, "KVMK", 4);
  std::memcpy(&signature.ecx, "VMKV", 4);
  std::memcpy(&signature.edx, "M\0\0\0", 4);
  entries.push_back(signature);
  kvm_cpuid_entry2 features = make_entry(KVM_CPUID_FEATURES, 0, 0);
  features.eax = wanted_kvm_features() & host_kvm_features;
  entries.push_back(features);
  return entries;
}

}  // namespace nestbox::x86
