// The settings a machine is built from, already parsed into C++ values, and
// their validation against what the host can provide.
#pragma once

#include <cstdint>
#include <string>

#include "arch/x86/kernel_format.h"

namespace nestbox {

struct MachineConfig {
  std::string kernel_path;
  x86::KernelFormat kernel_format = x86::KernelFormat::Auto;
  std::string command_line;
  std::uint64_t memory_mib = 0;
  std::uint32_t cpus = 1;
};

struct HostLimits {
  std::uint64_t physical_memory_bytes;
  std::uint32_t max_vcpus;
};

inline constexpr std::uint64_t kMinMemoryMiB = 16;
inline constexpr std::uint64_t kMaxMemoryMiB = 1024 * 1024;  // 1 TiB
// SMP needs the in-kernel interrupt controller to start application
// processors (INIT/SIPI); until it lands, machines have one vCPU.
inline constexpr std::uint32_t kMaxSupportedCpus = 1;

HostLimits current_host_limits(std::uint32_t kvm_max_vcpus);

// Throws NestboxError(InvalidConfig) naming the setting and the allowed range.
void validate_machine_config(const MachineConfig& config, const HostLimits& host);

}  // namespace nestbox
