// A virtual machine: guest RAM, the KVM VM with its in-kernel interrupt
// controllers, one thread per vCPU, the devices, and one I/O thread.
//
// Lifecycle: the constructor builds everything and loads the kernel (all
// configuration errors surface there); start() runs the vCPUs; pause() and
// resume() park and release them; a guest or host reset rebuilds the board
// (everything but RAM, which is cleared) and boots again, or stops the
// machine when reboot_on_reset is off; the machine stops by itself (ACPI S5,
// every vCPU halted, an error) or on power_off(); close() joins the threads
// and releases every fd and mapping. Events go to the MachineEventSink, from
// vCPU threads and the I/O thread.
//
// Threads: lifecycle work that must stop and join vCPU threads (reset, stop,
// failure) always runs on the I/O thread, since a vCPU thread cannot join
// itself. Locks: state_mutex_ (state, events ordering) is never held while
// joining vCPU threads; board_mutex_ guards the board pointer only.
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bus/address_bus.h"
#include "kvm/kvm_system.h"
#include "devices/input/input_router.h"
#include "machine/board.h"
#include "machine/display_monitor.h"
#include "machine/io_thread.h"
#include "machine/machine_config.h"
#include "machine/machine_events.h"
#include "machine/machine_state.h"
#include "memory/guest_memory.h"
#include "net/pollable_driver.h"
#include "net/slirp_backend.h"
#include "snapshot/ram_file.h"

namespace nestbox {

struct SnapshotFiles {
  std::string state_path;
  std::string ram_path;
};

struct SnapshotSaveResult {
  std::uint64_t ram_size = 0;           // guest RAM
  std::uint64_t ram_bytes_written = 0;  // non-zero pages written to the RAM file
  std::uint64_t state_bytes = 0;        // the machine-state file
};

// What a snapshot's files hold, read and checked completely without a
// machine: so a revert can refuse a corrupt or unreadable snapshot before it
// changes anything. Throws SnapshotError like a restore would.
struct SnapshotDescription {
  std::uint32_t format_version = 0;
  std::uint32_t vcpus = 0;
  std::uint64_t ram_bytes = 0;
  std::uint64_t vram_bytes = 0;  // 0: headless
  std::vector<std::string> devices;
};
[[nodiscard]] SnapshotDescription describe_snapshot(const SnapshotFiles& files);

struct MachineStats {
  BusStats ports;
  BusStats mmio;
  std::uint64_t serial_bytes_out = 0;
  std::uint64_t resets = 0;
};

// Repeated triple faults soon after booting are a reset loop, not a reboot.
inline constexpr std::chrono::seconds kResetLoopWindow{5};
inline constexpr int kResetLoopLimit = 3;
// How often silent vCPUs are checked for "halted with interrupts off".
inline constexpr std::chrono::milliseconds kHaltProbeInterval{200};

class Machine {
 public:
  // Opens config.kvm_device_path; throws KvmUnavailableError when it cannot.
  Machine(const MachineConfig& config, MachineEventSink& events);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // created → running. Throws InvalidState from any other state.
  void start();
  // running → paused, completed by a state event once every vCPU is out of
  // the guest. Returns at once. Throws InvalidState unless running.
  void pause();
  // paused (or pausing) → running. Throws InvalidState otherwise.
  void resume();
  // A host reset: reset event, then reboot or stop. Throws InvalidState
  // unless running or paused.
  void reset();
  void press_power_button();
  // Asks the machine to stop; returns at once. A state event follows.
  // A machine that never started stops immediately; a stopped one ignores it.
  void power_off();
  // Bytes for COM1's receive FIFO; returns how many were accepted.
  std::size_t send_serial_input(std::span<const std::uint8_t> bytes);

  // Keyboard and pointer input as the UI has it (input::InputRouter): DOM
  // KeyboardEvent.code names, framebuffer pixels. False when the guest has
  // no device listening (or the code is unknown).
  [[nodiscard]] input::InputRouter& input() { return input_; }

  // The display stream: mode and damage events while streaming is on.
  void set_display_streaming(bool on);
  void request_full_display_frame();
  // The visible frame as 32-bit B, G, R, X pixels, width * 4 bytes per line;
  // nullopt without a visible mode.
  struct Frame {
    display::DisplayMode mode;
    std::vector<std::uint8_t> pixels;
  };
  [[nodiscard]] std::optional<Frame> read_display_frame() const;
  // Copies `rects` of the visible frame into `target` (the whole frame in
  // that layout, width * 4 bytes per line), e.g. only what changed since the
  // last copy. False, copying nothing, when `target` does not have the
  // current mode's size or no mode is visible.
  bool copy_display_rects(std::span<std::uint8_t> target,
                          std::span<const display::DirtyRect> rects) const;
  // The visible frame as PNG; nullopt without a visible mode.
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> screenshot_png() const;
  // Writes the whole machine state to `files` (machine_snapshot.cc): every
  // vCPU, the interrupt controllers, PIT and clock, every device, the video
  // memory, and guest RAM as a sparse file. Only while paused (InvalidState
  // otherwise); runs on the I/O thread, which it holds for the duration, so
  // no device touches RAM meanwhile. Each file appears complete or not at
  // all. Throws SnapshotError (Io) on a write failure; `progress` may throw
  // to cancel.
  SnapshotSaveResult save_snapshot(const SnapshotFiles& files,
                                   const snapshot::RamFileProgress& progress = {});

  // Continues a snapshot in this machine, in place of what runs now: the
  // vCPUs, devices and video memory from `source.state_path`; guest RAM from
  // `source.ram_path`, or, when that is empty, the RAM as it is (taking a
  // snapshot switches disks this way, without touching RAM); the disks from
  // `disks` (same count and sizes as before: new overlays). Everything is
  // read and checked before the running board is touched, so a snapshot
  // that cannot be used throws SnapshotError and leaves the machine as it
  // was. Only while running or paused, and the machine stays in that state.
  void restore_snapshot(const SnapshotSource& source, const std::vector<DiskConfig>& disks);

  // Stops the vCPUs if needed, joins their threads and frees the VM. Idempotent.
  void close();

  [[nodiscard]] MachineState state() const;
  [[nodiscard]] MachineStats stats() const;
  [[nodiscard]] bool closed() const;

 private:
  // Board generations start at 1; a request that applies whichever boot is current.
  static constexpr std::uint64_t kAnyBoot = 0;

  std::unique_ptr<Board> build_board(BoardBoot boot = BoardBoot::Kernel);
  // machine_snapshot.cc: reads and checks a snapshot; maps its RAM file
  // unless `source.ram_path` is empty.
  struct LoadedSnapshot {
    BoardState board;
    std::optional<GuestMemory> memory;
  };
  [[nodiscard]] LoadedSnapshot load_snapshot(const SnapshotSource& source) const;
  [[nodiscard]] std::vector<BoardDisk> open_disks(const std::vector<DiskConfig>& disks) const;
  void restore_snapshot_on_io_thread(LoadedSnapshot& snapshot, std::vector<BoardDisk>& disks);
  SnapshotSaveResult save_snapshot_on_io_thread(const SnapshotFiles& files,
                                                const snapshot::RamFileProgress& progress);
  // Points input and the display monitor at `board`'s devices (null: none).
  void connect_board_devices(const Board* board);
  [[nodiscard]] std::shared_ptr<display::BochsDisplay> current_display() const;
  // Disk images and the network backend, which live as long as the machine.
  void open_peripherals();
  // I/O thread only.
  void handle_vcpu_finished(std::uint64_t generation, VcpuResult result);
  void handle_reset(std::uint64_t generation, ResetCause cause,
                    std::optional<MachineErrorReport> report);
  void finish(std::uint64_t generation, MachineState final_state, std::string_view reason,
              std::optional<MachineErrorReport> error);
  std::unique_ptr<Board> take_board();
  void on_halt_probe_tick();
  void on_all_vcpus_parked(std::uint64_t generation);

  MachineConfig config_;
  MachineEventSink& events_;
  kvm::KvmSystem system_;
  std::vector<kvm_cpuid_entry2> supported_cpuid_;
  BootImages images_;
  std::optional<GuestMemory> memory_;
  std::atomic<std::uint64_t> serial_bytes_out_{0};

  mutable std::mutex state_mutex_;
  MachineState state_ = MachineState::Created;
  bool pausing_ = false;
  bool finishing_ = false;  // a stop is on its way
  bool closed_ = false;
  std::uint64_t resets_ = 0;

  // I/O thread only.
  std::chrono::steady_clock::time_point booted_at_;
  int quick_triple_faults_ = 0;

  mutable std::mutex board_mutex_;
  std::uint64_t board_generation_ = 0;  // under board_mutex_: which boot is current
  BusStats retired_ports_;              // under board_mutex_: stats of earlier boots
  BusStats retired_mmio_;
  IoTimer halt_probe_timer_;
  // Lent to every board; the backend is used on the I/O thread only (its
  // driver is watched there), and both outlive every board.
  std::unique_ptr<net::SlirpBackend> network_;
  std::unique_ptr<net::PollableDriver> network_driver_;
  BoardPeripherals peripherals_;
  // close() stops this before it releases the board and memory.
  IoThread io_;
  input::InputRouter input_;
  std::unique_ptr<DisplayMonitor> display_monitor_;  // uses io_: declared after it
  std::unique_ptr<Board> board_;
};

}  // namespace nestbox
