// Encoding of the KVM state (kvm/vcpu_state.h, kvm/vm_state.h) as state-file
// sections. The KVM uapi structs are stored as size-prefixed raw bytes: they
// are fixed x86-64 ABI, and the size prefix refuses a file from a build whose
// layout differs. KVM itself validates the values when they are restored.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kvm/vcpu_state.h"
#include "kvm/vm_state.h"
#include "snapshot/byte_codec.h"
#include "snapshot/state_file.h"

namespace nestbox::snapshot {

// Every vCPU, in vCPU-index order.
inline constexpr std::uint32_t kVcpuSectionTag = section_tag("VCPU");
inline constexpr std::uint32_t kVcpuSectionVersion = 1;
// PICs, IOAPIC, PIT, kvmclock.
inline constexpr std::uint32_t kKvmVmSectionTag = section_tag("KVVM");
inline constexpr std::uint32_t kKvmVmSectionVersion = 1;

// Limits a decoder enforces before allocating.
inline constexpr std::uint32_t kMaxSnapshotVcpus = 4096;
inline constexpr std::uint32_t kMaxSnapshotMsrs = 4096;
inline constexpr std::uint32_t kMaxSnapshotCpuidEntries = 1024;  // KVM allows 256
inline constexpr std::uint64_t kMaxXsaveSize = 1u << 20;  // today's AMX-sized areas are ~11 KiB

void encode_vcpu_state(ByteWriter& out, const kvm::VcpuState& state);
[[nodiscard]] kvm::VcpuState decode_vcpu_state(ByteReader& in);

[[nodiscard]] std::vector<std::uint8_t> encode_vcpu_section(std::span<const kvm::VcpuState> vcpus);
// Throws SnapshotError (Malformed) on anything inconsistent.
[[nodiscard]] std::vector<kvm::VcpuState> decode_vcpu_section(ByteReader in);

[[nodiscard]] std::vector<std::uint8_t> encode_kvm_vm_section(const kvm::VmState& state);
[[nodiscard]] kvm::VmState decode_kvm_vm_section(ByteReader in);

}  // namespace nestbox::snapshot
