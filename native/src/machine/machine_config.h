// The settings a machine is built from, already parsed into C++ values, and
// their validation against what the host can provide.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arch/x86/kernel_format.h"
#include "kvm/kvm_system.h"
#include "net/mac_address.h"
#include "net/port_forward.h"

namespace nestbox {

// One virtio-blk disk. The image's format is detected (qcow2 by its magic,
// raw otherwise) and its backing chain opened with it.
struct DiskConfig {
  std::string path;
  bool read_only = false;  // the guest sees a read-only disk; the file is opened read-only
  std::string serial;      // what the guest reads as the disk's ID (≤ 20 bytes); empty: derived
};

// The NIC (virtio-net) on user-mode networking (libslirp).
struct NetworkConfig {
  // The NIC's MAC address; when absent it is derived from vm_id (stable per VM).
  std::optional<net::MacAddress> mac;
  std::string vm_id;
  std::vector<net::PortForward> port_forwards;
  bool isolated = false;  // the guest reaches nothing outside; only port forwards come in
};

// The display (bochs-display on PCI, plus virtio keyboard and tablet).
struct DisplayConfig {
  std::uint32_t vram_mib = 16;  // a power of two, 1-256
  // The monitor's preferred mode (EDID) and the mode a directly booted
  // kernel finds set up (screen_info), as firmware would have left it.
  std::uint32_t width = 1024;
  std::uint32_t height = 768;
};

// PCI slots of the board's devices (bus 0, function 0 each).
inline constexpr std::uint8_t kDisplayPciSlot = 1;
inline constexpr std::uint8_t kNetworkPciSlot = 2;
inline constexpr std::uint8_t kEntropyPciSlot = 3;
inline constexpr std::uint8_t kFirstDiskPciSlot = 4;
inline constexpr std::size_t kMaxDisks = 16;  // slots 4-19
inline constexpr std::uint8_t kKeyboardPciSlot = 20;
inline constexpr std::uint8_t kTabletPciSlot = 21;
inline constexpr std::size_t kMaxDiskSerialLength = 20;
inline constexpr std::size_t kMaxPortForwards = 64;

// A snapshot to continue instead of booting: its machine-state file and RAM
// file (snapshot/). The rest of the config must describe the same hardware.
struct SnapshotSource {
  std::string state_path;
  std::string ram_path;
};

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
  std::vector<DiskConfig> disks;        // virtio-blk, PCI slots 4, 5, ... in this order
  std::optional<NetworkConfig> network;  // absent: no NIC
  bool entropy = true;                   // virtio-rng fed from the host's getrandom
  std::optional<DisplayConfig> display = DisplayConfig{};  // absent: headless (serial only)
  std::optional<SnapshotSource> restore;                  // absent: boot the kernel
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
