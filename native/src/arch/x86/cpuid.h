// The CPUID a vCPU shows its guest: what the host's KVM supports, with the
// machine's topology (one socket, one thread per core, APIC ID = vCPU index),
// the hypervisor bit and KVM's paravirtual leaves. Pure functions over
// KVM's entry type, so they are unit-tested without a VM.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace nestbox::x86 {

struct CpuTopology {
  std::uint32_t cpu_count;  // vCPUs, all cores of one socket, one thread each
  // Bits of the APIC ID that number cores inside the socket: ceil(log2(cpu_count)).
  [[nodiscard]] std::uint32_t core_id_bits() const;
};

// The paravirtual features offered in leaf 0x40000001 EAX (those the host
// supports): kvmclock (both MSR sets), stable clocksource, steal time, PV EOI,
// PV unhalt (spinlocks), PV TLB flush, PV IPIs, NOP I/O delay.
std::uint32_t wanted_kvm_features();

// `supported` is KVM_GET_SUPPORTED_CPUID; `apic_id` the vCPU's (its index).
std::vector<kvm_cpuid_entry2> guest_cpuid(std::span<const kvm_cpuid_entry2> supported,
                                          const CpuTopology& topology, std::uint32_t apic_id);

// The entry for (function, index), if present.
std::optional<kvm_cpuid_entry2> find_cpuid_entry(std::span<const kvm_cpuid_entry2> entries,
                                                 std::uint32_t function, std::uint32_t index = 0);

bool is_amd_like(std::span<const kvm_cpuid_entry2> entries);  // AMD or Hygon vendor string

}  // namespace nestbox::x86
