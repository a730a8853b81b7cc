// The settings a machine is built from, already parsed into C++ values, and
// their validation against what the host can provide.
#pragma once

#include <cstdint>
#include <string>

#include "arch/x86/kernel_format.h"
#include "kvm/kvm_system.h"

namespace nestbox {

struct MachineConfig {
  std::string kernel_path;
  x86::KernelFormat kernel_format = x86::KernelFormat::Auto;
  std::string command_line;
  std::uint64_t memory_mib = 0;
  std::uint32_t cpus = 1;
  std::string initrd_path;      // empty: none
  bool reboot_on_reset = true;  // false: a guest reset stops the machine
  // The KVM device node to open: /dev/kvm unless pointed elsewhere (another
  // node with the same ABI, e.g. in a container or a test).
  std::string kvm_device_path = kvm::kDefaultKvmDevicePath;
};

struct HostLimits {
  std::uint64_t physical_memory_bytes;
  std::uint32_t max_vcpus;
};

inline constexpr std::uint64_t kMinMemoryMiB = 64;
// Guest RAM is a lazily populated memfd, so a machine may be given more than
// the host has (pages are only allocated when the guest touches them); this
// caps it at a size the guest-physical address space and page tables handle.
inline constexpr std::uint64_t kMaxMemoryMiB = 1024 * 1024;  // 1 TiB
// One socket of up to 64 cores (the MADT, CPUID topology and APIC IDs are
// built for this; xAPIC IDs stay below 255).
inline constexpr std::uint32_t kMaxSupportedCpus = 64;

HostLimits current_host_limits(std::uint32_t kvm_max_vcpus);

// Throws NestboxError(InvalidConfig) naming the setting and the allowed range.
void validate_machine_config(const MachineConfig& config, const HostLimits& host);

}  // namespace nestbox
