// Everything of a machine that one boot uses and a reset throws away: the KVM
// VM with its in-kernel interrupt controllers and PIT, the buses and device
// models, the boot images written into (already cleared) guest RAM, and one
// thread per vCPU. A reboot destroys the board and builds a new one on the
// same guest RAM, which is the simplest way to be sure nothing of the old
// boot survives (vCPU, LAPIC, IOAPIC, PIT and device state alike).
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "arch/x86/long_mode_setup.h"
#include "bus/address_bus.h"
#include "kvm/kvm_system.h"
#include "kvm/kvm_vm.h"
#include "kvm/vcpu_state.h"
#include "kvm/vm_state.h"
#include "machine/io_thread.h"
#include "machine/machine_config.h"
#include "machine/machine_events.h"
#include "machine/vcpu_thread.h"
#include "memory/guest_memory.h"
#include "net/mac_address.h"

namespace nestbox {

namespace block {
class DiskImage;
}
namespace display {
class BochsDisplay;
}
namespace virtio {
class VirtioInput;
}
class I8042Controller;
class AcpiPmBlock;
class CmosRtc;
class PostCodePort;
namespace net {
class NetBackend;
}

class PciPlatform;
class SerialPort;
class KvmInterruptLine;

inline constexpr std::uint16_t kCom1Port = 0x3f8;
inline constexpr std::uint32_t kCom1Gsi = 4;
inline constexpr std::uint32_t kKeyboardGsi = 1;
inline constexpr std::uint32_t kMouseGsi = 12;
inline constexpr std::uint32_t kRtcGsi = 8;
inline constexpr std::uint32_t kSciGsi = 9;
inline constexpr std::uint16_t kI8042DataPort = 0x60;
inline constexpr std::uint16_t kI8042CommandPort = 0x64;
inline constexpr std::uint16_t kRtcPort = 0x70;
inline constexpr std::uint16_t kPostCodePort = 0x80;

// The kernel and initrd bytes, read once when the machine is created and
// loaded again at every reboot.
struct BootImages {
  std::vector<std::uint8_t> kernel;
  std::optional<std::vector<std::uint8_t>> initrd;
};

// What the machine keeps across reboots and lends to each board: open disk
// images and the network backend (whose host sockets and port forwards must
// not close when the guest reboots).
struct BoardDisk {
  std::shared_ptr<block::DiskImage> image;
  bool read_only = false;
  std::string serial;
};

struct BoardPeripherals {
  std::optional<DisplayConfig> display;
  std::vector<BoardDisk> disks;
  net::NetBackend* network = nullptr;  // null: no NIC; else outlives the board
  net::MacAddress mac;
  bool entropy = true;
};

// How the board reports to its machine. All may be called from vCPU threads
// (devices run there) and must not block.
struct BoardCallbacks {
  std::function<void(std::span<const std::uint8_t>)> serial_output;
  std::function<void(ResetCause)> reset_requested;  // i8042 0xFE, ACPI reset register
  std::function<void()> power_off_requested;        // ACPI S5
  VcpuThread::OnFinished vcpu_finished;
  std::function<void()> all_vcpus_parked;
  std::function<void(std::string_view)> log;  // device notices for the VM's log
};

// How a board starts: booting the kernel into cleared RAM, or continuing a
// snapshot whose RAM is already in place (restore_state() follows).
enum class BoardBoot { Kernel, Snapshot };

// One device's saved state, encoded (snapshot/device_state_codec.h), under a
// name that says which device it belongs to ("com1", "virtio 00:04.0").
struct DeviceStateRecord {
  std::string name;
  std::vector<std::uint8_t> bytes;
};

// Everything of a paused board a snapshot holds, apart from guest RAM.
struct BoardState {
  std::vector<kvm::VcpuState> vcpus;
  kvm::VmState vm;
  std::vector<DeviceStateRecord> devices;
  std::vector<std::uint8_t> vram;  // the display's video memory; empty without a display
};

class Board {
 public:
  // Kernel: loads the boot images into `memory` (which must read as zero).
  // Snapshot: leaves `memory` alone; call restore_state() before start().
  // Builds the VM. Throws NestboxError with a message naming what was wrong.
  Board(const kvm::KvmSystem& system, const GuestMemory& memory, const MachineConfig& config,
        const BootImages& images, std::span<const kvm_cpuid_entry2> supported_cpuid,
        const BoardPeripherals& peripherals, BoardCallbacks callbacks,
        BoardBoot boot = BoardBoot::Kernel);
  ~Board();
  Board(const Board&) = delete;
  Board& operator=(const Board&) = delete;

  void start();
  void request_pause();
  void resume();
  // Every vCPU thread leaves KVM_RUN and finishes; join() waits for them.
  void request_stop();
  void join();

  // Halt detection, from the I/O thread: probes the vCPUs that have been
  // silent since the last call; true when every vCPU answered "halted for good".
  bool probe_for_halt();

  // Device timers and event fds, registered on the machine's I/O thread.
  void attach_io(IoThread& io);
  void detach_io(IoThread& io);

  std::size_t send_serial_input(std::span<const std::uint8_t> bytes);
  void press_power_button();

  // Snapshots (board_snapshot.cc). save_state: every vCPU parked and nothing
  // else touching devices or RAM (the machine runs it on its I/O thread);
  // completes in-flight disk requests first. restore_state: a board built
  // with BoardBoot::Snapshot, before start(); throws SnapshotError (Mismatch)
  // when the state does not fit this board's hardware, or Malformed.
  [[nodiscard]] BoardState save_state();
  void restore_state(const BoardState& state);

  // The devices input and display consumers use; the virtio ones and the
  // display are null on a headless board.
  [[nodiscard]] const std::shared_ptr<I8042Controller>& keyboard_controller() const {
    return keyboard_;
  }
  [[nodiscard]] const std::shared_ptr<virtio::VirtioInput>& virtio_keyboard() const {
    return virtio_keyboard_;
  }
  [[nodiscard]] const std::shared_ptr<virtio::VirtioInput>& virtio_tablet() const {
    return virtio_tablet_;
  }
  [[nodiscard]] const std::shared_ptr<display::BochsDisplay>& display() const { return display_; }

  [[nodiscard]] BusStats port_stats() const { return port_bus_.stats(); }
  [[nodiscard]] BusStats mmio_stats() const { return mmio_bus_.stats(); }

 private:
  void load_boot_images(const GuestMemory& memory, const MachineConfig& config,
                        const BootImages& images);
  void attach_devices(const MachineConfig& config, const GuestMemory& memory);
  void attach_pci_devices(const GuestMemory& memory, const BoardPeripherals& peripherals);
  void attach_display(const GuestMemory& memory, const DisplayConfig& config);
  // board_snapshot.cc: each device's record, in restore order.
  [[nodiscard]] std::vector<DeviceStateRecord> save_devices() const;
  void restore_devices(std::span<const DeviceStateRecord> records);
  // Runs `task` on the machine's I/O thread (dropped when none is attached).
  void post_to_io(std::function<void()> task);
  void create_vcpus(const MachineConfig& config, std::span<const kvm_cpuid_entry2> supported);
  std::shared_ptr<KvmInterruptLine> irq(std::uint32_t gsi);

  BoardCallbacks callbacks_;
  const kvm::KvmSystem& system_;  // the machine's; outlives the board
  kvm::KvmVm vm_;
  AddressBus port_bus_{"port I/O"};
  AddressBus mmio_bus_{"MMIO"};
  std::shared_ptr<SerialPort> com1_;
  std::shared_ptr<I8042Controller> keyboard_;
  std::shared_ptr<PostCodePort> post_code_;
  std::shared_ptr<AcpiPmBlock> pm_;
  std::shared_ptr<CmosRtc> rtc_;
  std::unique_ptr<PciPlatform> pci_;
  std::shared_ptr<virtio::VirtioInput> virtio_keyboard_;
  std::shared_ptr<virtio::VirtioInput> virtio_tablet_;
  std::unique_ptr<class FramebufferSlot> framebuffer_slot_;  // before display_: outlives it
  std::shared_ptr<display::BochsDisplay> display_;
  std::function<void()> power_button_;
  std::vector<std::function<void(IoThread&)>> io_attachments_;
  std::vector<int> io_watched_fds_;
  std::vector<std::shared_ptr<IoTimer>> timers_;
  std::atomic<IoThread*> io_{nullptr};  // set by attach_io, before the vCPUs start

  std::uint64_t boot_entry_point_ = 0;
  x86::LongModeState long_mode_{};
  std::uint64_t acpi_rsdp_address_ = 0;

  BoardBoot boot_;
  std::unique_ptr<VcpuRunControl> run_control_;
  std::vector<std::uint64_t> exits_seen_;
  // Last: destroyed first, so no vCPU thread outlives the devices it uses.
  std::vector<std::unique_ptr<VcpuThread>> vcpus_;
};

}  // namespace nestbox
