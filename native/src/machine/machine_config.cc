#include "machine/machine_config.h"

#include <unistd.h>

#include <algorithm>
#include <array>

#include "arch/x86/memory_layout.h"
#include "common/nestbox_error.h"

namespace nestbox {

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw NestboxError(ErrorCode::InvalidConfig, message);
}

}  // namespace

HostLimits current_host_limits(std::uint32_t kvm_max_vcpus) {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const std::uint64_t bytes = pages > 0 && page_size > 0
                                  ? static_cast<std::uint64_t>(pages) *
                                        static_cast<std::uint64_t>(page_size)
                                  : 0;
  return HostLimits{bytes, kvm_max_vcpus};
}

void validate_machine_config(const MachineConfig& config, const HostLimits& host) {
  if (config.kernel_path.empty()) {
    invalid("kernelPath: no kernel file given");
  }
  if (config.kvm_device_path.empty()) {
    invalid("kvmDevicePath: no KVM device path given");
  }
  if (config.memory_mib < kMinMemoryMiB) {
    invalid("memoryMiB: " + std::to_string(config.memory_mib) + " MiB is too little; at least " +
            std::to_string(kMinMemoryMiB) + " MiB is needed");
  }
  if (config.memory_mib > kMaxMemoryMiB) {
    invalid("memoryMiB: " + std::to_string(config.memory_mib) + " MiB is more than the " +
            std::to_string(kMaxMemoryMiB) + " MiB (1 TiB) limit");
  }
  if (config.cpus < 1) {
    invalid("cpus: a machine needs at least 1 vCPU");
  }
  const std::uint32_t max_cpus = std::min(kMaxSupportedCpus, host.max_vcpus);
  if (config.cpus > max_cpus) {
    invalid("cpus: " + std::to_string(config.cpus) + " requested; the most " +
            (max_cpus == kMaxSupportedCpus ? std::string("a machine can have")
                                           : std::string("this host's KVM allows")) +
            " is " + std::to_string(max_cpus));
  }
  if (config.command_line.size() >= x86::layout::kCommandLineCapacity) {
    invalid("cmdline: " + std::to_string(config.command_line.size()) +
            " bytes is too long; the limit is " +
            std::to_string(x86::layout::kCommandLineCapacity - 1));
  }
  if (config.command_line.find('\0') != std::string::npos) {
    invalid("cmdline: contains a NUL byte");
  }
  if (config.disks.size() > kMaxDisks) {
    invalid("disks: " + std::to_string(config.disks.size()) + " disks; a machine can have at most " +
            std::to_string(kMaxDisks));
  }
  for (std::size_t i = 0; i < config.disks.size(); ++i) {
    const DiskConfig& disk = config.disks[i];
    const std::string name = "disks[" + std::to_string(i) + "]";
    if (disk.path.empty()) {
      invalid(name + ".path: no image file given");
    }
    if (disk.serial.size() > kMaxDiskSerialLength) {
      invalid(name + ".serial: longer than " + std::to_string(kMaxDiskSerialLength) + " bytes");
    }
  }
  if (config.display) {
    const DisplayConfig& display = *config.display;
    if (display.vram_mib < 1 || display.vram_mib > 256 ||
        (display.vram_mib & (display.vram_mib - 1)) != 0) {
      invalid("display.vramMiB: " + std::to_string(display.vram_mib) +
              " must be a power of two from 1 to 256");
    }
    if (display.width < 320 || display.height < 200 || display.width > 8192 ||
        display.height > 8192) {
      invalid("display: " + std::to_string(display.width) + "x" + std::to_string(display.height) +
              " is outside 320x200 to 8192x8192");
    }
    if (std::uint64_t{display.width} * display.height * 4 > (std::uint64_t{display.vram_mib} << 20)) {
      invalid("display: " + std::to_string(display.width) + "x" + std::to_string(display.height) +
              " at 32 bits per pixel does not fit " + std::to_string(display.vram_mib) +
              " MiB of video memory");
    }
  }
  if (config.network) {
    const NetworkConfig& network = *config.network;
    if (network.mac && (!network.mac->is_unicast() || network.mac->bytes == std::array<std::uint8_t, 6>{})) {
      invalid("network.macAddress: " + network.mac->to_string() +
              " is not a unicast address a NIC can use");
    }
    if (network.port_forwards.size() > kMaxPortForwards) {
      invalid("network.portForwards: at most " + std::to_string(kMaxPortForwards) + " forwards");
    }
    for (const net::PortForward& forward : network.port_forwards) {
      if (forward.host_port == 0 || forward.guest_port == 0) {
        invalid("network.portForwards: " + forward.describe() + ": ports must be 1-65535");
      }
    }
  }
}

}  // namespace nestbox
