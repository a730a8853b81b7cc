#include "machine/machine.h"

#include <exception>
#include <string>
#include <utility>

#include "arch/x86/kernel_file.h"
#include "block/disk_image.h"
#include "devices/display/bochs_display.h"
#include "arch/x86/memory_layout.h"
#include "common/nestbox_error.h"

namespace nestbox {

namespace {

constexpr std::uint64_t kNanosecondsPerMillisecond = 1'000'000;

BootImages read_boot_images(const MachineConfig& config) {
  BootImages images;
  images.kernel = x86::read_kernel_file(config.kernel_path);
  if (!config.initrd_path.empty()) {
    images.initrd = x86::read_initrd_file(config.initrd_path);
  }
  return images;
}

MachineErrorReport vmm_failure(const std::exception& error) {
  return MachineErrorReport{std::string("the VMM failed: ") + error.what(), std::nullopt};
}

}  // namespace

Machine::Machine(const MachineConfig& config, MachineEventSink& events)
    : config_(config), events_(events), system_(kvm::KvmSystem::open(config.kvm_device_path)) {
  validate_machine_config(
      config_, current_host_limits(static_cast<std::uint32_t>(system_.max_vcpus())));
  images_ = read_boot_images(config_);
  supported_cpuid_ = system_.supported_cpuid();
  std::optional<BoardState> restored;
  if (config_.restore) {
    LoadedSnapshot snapshot = load_snapshot(*config_.restore);
    if (!snapshot.memory) {
      throw NestboxError(ErrorCode::InvalidConfig, "restore.ramFile is required");
    }
    memory_.emplace(std::move(*snapshot.memory));
    restored = std::move(snapshot.board);
  } else {
    memory_.emplace(
        GuestMemory::allocate(x86::layout::guest_ram_regions(config_.memory_mib << 20)));
  }
  open_peripherals();
  board_ = build_board(restored ? BoardBoot::Snapshot : BoardBoot::Kernel);
  display_monitor_ = std::make_unique<DisplayMonitor>(
      io_, events_, [this](const std::optional<display::DisplayMode>& mode) {
        if (mode) input_.set_display_size(mode->width, mode->height);
      });
  display_monitor_->attach_io();
  connect_board_devices(board_.get());
  // After the display monitor listens: the restored display announces its mode.
  if (restored) board_->restore_state(*restored);

  const std::uint64_t period =
      static_cast<std::uint64_t>(kHaltProbeInterval.count()) * kNanosecondsPerMillisecond;
  halt_probe_timer_.arm(period, period);
  io_.watch(halt_probe_timer_.fd(), [this] {
    halt_probe_timer_.consume();
    on_halt_probe_tick();
  });
  if (network_driver_) {
    io_.watch(network_driver_->fd(), [driver = network_driver_.get()] { driver->dispatch(); });
  }
  board_->attach_io(io_);
}

Machine::~Machine() { close(); }

void Machine::connect_board_devices(const Board* board) {
  if (board == nullptr) {
    input_.detach();
    display_monitor_->detach();
    return;
  }
  input_.attach(board->keyboard_controller(), board->virtio_keyboard(), board->virtio_tablet());
  display_monitor_->attach(board->display());
}

std::shared_ptr<display::BochsDisplay> Machine::current_display() const {
  const std::lock_guard lock(board_mutex_);
  return board_ ? board_->display() : nullptr;
}

void Machine::set_display_streaming(bool on) { display_monitor_->set_streaming(on); }

void Machine::request_full_display_frame() { display_monitor_->request_full_frame(); }

namespace {

// Copies `rects` (clipped to the mode) of the visible frame in `vram` into
// `target`, laid out as width * 4 bytes per line of B, G, R, X. False when
// the mode does not fit the VRAM or `target` is not the frame's size.
bool copy_visible_rects(const display::DisplayMode& mode, std::span<const std::uint8_t> vram,
                        std::span<std::uint8_t> target,
                        std::span<const display::DirtyRect> rects) {
  if (!display::mode_fits(mode, vram.size()) ||
      target.size() != std::size_t{mode.width} * mode.height * 4) {
    return false;
  }
  const std::size_t target_stride = std::size_t{mode.width} * 4;
  const auto clipped = [&](const display::DirtyRect& rect) {
    display::DirtyRect c = rect;
    c.x = std::min(c.x, mode.width);
    c.y = std::min(c.y, mode.height);
    c.width = std::min(c.width, mode.width - c.x);
    c.height = std::min(c.height, mode.height - c.y);
    return c;
  };
  if (mode.bpp == 32 && !mode.big_endian) {
    for (const display::DirtyRect& rect : rects) {
      const display::DirtyRect r = clipped(rect);
      for (std::uint32_t y = r.y; y < r.y + r.height; ++y) {
        const std::uint8_t* row =
            vram.data() + mode.offset + std::uint64_t{y} * mode.stride + std::uint64_t{r.x} * 4;
        std::copy_n(row, std::size_t{r.width} * 4, target.begin() + y * target_stride + r.x * 4);
      }
    }
    return true;
  }
  // Other depths and byte orders go through the one converter to RGB.
  const std::vector<std::uint8_t> rgb = display::framebuffer_to_rgb(mode, vram);
  for (const display::DirtyRect& rect : rects) {
    const display::DirtyRect r = clipped(rect);
    for (std::uint32_t y = r.y; y < r.y + r.height; ++y) {
      for (std::uint32_t x = r.x; x < r.x + r.width; ++x) {
        const std::size_t from = (std::size_t{y} * mode.width + x) * 3;
        const std::size_t to = y * target_stride + std::size_t{x} * 4;
        target[to] = rgb[from + 2];
        target[to + 1] = rgb[from + 1];
        target[to + 2] = rgb[from];
        target[to + 3] = 0;
      }
    }
  }
  return true;
}

}  // namespace

std::optional<Machine::Frame> Machine::read_display_frame() const {
  const std::shared_ptr<display::BochsDisplay> display = current_display();
  const std::optional<display::DisplayMode> mode = display ? display->visible_mode() : std::nullopt;
  if (!mode) return std::nullopt;
  Frame frame{*mode, std::vector<std::uint8_t>(std::size_t{mode->width} * mode->height * 4)};
  const display::DirtyRect whole{0, 0, mode->width, mode->height};
  if (!copy_visible_rects(*mode, display->vram(), frame.pixels, std::span(&whole, 1))) {
    return std::nullopt;
  }
  return frame;
}

bool Machine::copy_display_rects(std::span<std::uint8_t> target,
                                 std::span<const display::DirtyRect> rects) const {
  const std::shared_ptr<display::BochsDisplay> display = current_display();
  const std::optional<display::DisplayMode> mode = display ? display->visible_mode() : std::nullopt;
  return mode && copy_visible_rects(*mode, display->vram(), target, rects);
}

std::optional<std::vector<std::uint8_t>> Machine::screenshot_png() const {
  const std::shared_ptr<display::BochsDisplay> display = current_display();
  return display ? display->screenshot_png() : std::nullopt;
}

std::vector<BoardDisk> Machine::open_disks(const std::vector<DiskConfig>& disks) const {
  std::vector<BoardDisk> opened;
  for (std::size_t i = 0; i < disks.size(); ++i) {
    const DiskConfig& disk = disks[i];
    // Opening validates the header, the tables it points at and the whole
    // backing chain, so a corrupt or truncated image fails here, with a
    // message naming the file, before the guest could see a half-working
    // disk; nothing is written to it on the way.
    std::shared_ptr<block::DiskImage> image =
        block::open_disk_image(disk.path, block::OpenOptions{disk.read_only});
    const std::string serial = disk.serial.empty() ? "nestbox-disk" + std::to_string(i) : disk.serial;
    opened.push_back(BoardDisk{std::move(image), disk.read_only, serial});
  }
  return opened;
}

void Machine::open_peripherals() {
  peripherals_.disks = open_disks(config_.disks);
  peripherals_.entropy = config_.entropy;
  peripherals_.display = config_.display;
  if (config_.network) {
    const NetworkConfig& network = *config_.network;
    net::SlirpNetworkConfig slirp;
    slirp.port_forwards = network.port_forwards;
    slirp.isolated = network.isolated;
    network_ = std::make_unique<net::SlirpBackend>(
        slirp, [this](std::string_view message) { events_.on_log("network: " + std::string(message)); });
    network_driver_ = std::make_unique<net::PollableDriver>(*network_);
    peripherals_.network = network_.get();
    peripherals_.mac = network.mac ? *network.mac
                                   : net::derive_mac_address(network.vm_id.empty() ? config_.kernel_path
                                                                                   : network.vm_id);
  }
}

std::unique_ptr<Board> Machine::build_board(BoardBoot boot) {
  const std::uint64_t generation = board_generation_ + 1;
  BoardCallbacks callbacks;
  callbacks.serial_output = [this](std::span<const std::uint8_t> bytes) {
    serial_bytes_out_.fetch_add(bytes.size(), std::memory_order_relaxed);
    events_.on_serial_output(bytes);
  };
  callbacks.reset_requested = [this, generation](ResetCause cause) {
    io_.post([this, generation, cause] { handle_reset(generation, cause, std::nullopt); });
  };
  callbacks.power_off_requested = [this, generation] {
    io_.post([this, generation] {
      finish(generation, MachineState::Stopped, stop_reason::kPoweredOff, std::nullopt);
    });
  };
  callbacks.vcpu_finished = [this, generation](std::uint32_t, VcpuResult result) {
    io_.post([this, generation, result = std::move(result)]() mutable {
      handle_vcpu_finished(generation, std::move(result));
    });
  };
  // Posted, never called in place: request_pause() may find every vCPU parked
  // already, and it runs with the machine's locks held.
  callbacks.all_vcpus_parked = [this, generation] {
    io_.post([this, generation] { on_all_vcpus_parked(generation); });
  };
  callbacks.log = [this](std::string_view message) { events_.on_log(message); };
  auto board = std::make_unique<Board>(system_, *memory_, config_, images_, supported_cpuid_,
                                       peripherals_, std::move(callbacks), boot);
  const std::lock_guard lock(board_mutex_);
  board_generation_ = generation;
  return board;
}

void Machine::start() {
  const std::lock_guard lock(state_mutex_);
  if (closed_) {
    throw NestboxError(ErrorCode::InvalidState, "the machine is closed");
  }
  if (state_ != MachineState::Created) {
    throw NestboxError(ErrorCode::InvalidState, "the machine is " +
                                                    std::string(machine_state_name(state_)) +
                                                    "; only a new machine can be started");
  }
  state_ = MachineState::Running;
  // Announce before any vCPU runs, so "running" precedes everything the guest does.
  events_.on_state_changed(MachineState::Running, "");
  booted_at_ = std::chrono::steady_clock::now();
  io_.start();
  const std::lock_guard board_lock(board_mutex_);
  board_->start();
}

void Machine::pause() {
  const std::lock_guard lock(state_mutex_);
  // Pausing is idempotent: a second request that arrives after the first has
  // completed has nothing left to do.
  if (state_ == MachineState::Paused && !finishing_) return;
  if (state_ != MachineState::Running || finishing_) {
    throw NestboxError(ErrorCode::InvalidState,
                       "the machine is " + std::string(machine_state_name(state_)) +
                           "; only a running machine can be paused");
  }
  if (pausing_) {
    return;
  }
  pausing_ = true;
  const std::lock_guard board_lock(board_mutex_);
  if (board_) {
    board_->request_pause();  // may call on_all_vcpus_parked on another thread
  }
}

void Machine::on_all_vcpus_parked(std::uint64_t generation) {
  const std::lock_guard lock(state_mutex_);
  {
    const std::lock_guard board_lock(board_mutex_);
    if (generation != board_generation_) {
      return;
    }
  }
  if (pausing_ && state_ == MachineState::Running && !finishing_) {
    pausing_ = false;
    state_ = MachineState::Paused;
    events_.on_state_changed(MachineState::Paused, "");
  }
}

void Machine::resume() {
  const std::lock_guard lock(state_mutex_);
  if (!(state_ == MachineState::Paused || (state_ == MachineState::Running && pausing_)) ||
      finishing_) {
    throw NestboxError(ErrorCode::InvalidState,
                       "the machine is " + std::string(machine_state_name(state_)) +
                           "; only a paused machine can be resumed");
  }
  pausing_ = false;
  {
    const std::lock_guard board_lock(board_mutex_);
    if (board_) {
      board_->resume();
    }
  }
  if (state_ == MachineState::Paused) {
    state_ = MachineState::Running;
    events_.on_state_changed(MachineState::Running, "");
  }
}

void Machine::reset() {
  std::uint64_t generation = 0;
  {
    const std::lock_guard lock(state_mutex_);
    if ((state_ != MachineState::Running && state_ != MachineState::Paused) || finishing_) {
      throw NestboxError(ErrorCode::InvalidState,
                         "the machine is " + std::string(machine_state_name(state_)) +
                             "; only a running or paused machine can be reset");
    }
    const std::lock_guard board_lock(board_mutex_);
    generation = board_generation_;
  }
  io_.post([this, generation] { handle_reset(generation, ResetCause::Host, std::nullopt); });
}

void Machine::press_power_button() {
  const std::lock_guard lock(board_mutex_);
  if (board_) {
    board_->press_power_button();
  }
}

std::size_t Machine::send_serial_input(std::span<const std::uint8_t> bytes) {
  const std::lock_guard lock(board_mutex_);
  return board_ ? board_->send_serial_input(bytes) : 0;
}

void Machine::power_off() {
  {
    const std::lock_guard lock(state_mutex_);
    if (state_ == MachineState::Created) {
      state_ = MachineState::Stopped;
      events_.on_state_changed(MachineState::Stopped, stop_reason::kPoweredOff);
      return;
    }
    if ((state_ != MachineState::Running && state_ != MachineState::Paused) || finishing_) {
      return;
    }
  }
  io_.post([this] {
    finish(kAnyBoot, MachineState::Stopped, stop_reason::kPoweredOff, std::nullopt);
  });
}

void Machine::close() {
  {
    const std::lock_guard lock(state_mutex_);
    if (closed_) {
      return;
    }
    closed_ = true;
  }
  power_off();
  // Runs the stop posted above (and anything before it), then ends the loop.
  io_.stop();
  connect_board_devices(nullptr);
  std::unique_ptr<Board> board = take_board();
  if (board) {
    board->request_stop();
    board->join();
  }
  board.reset();
  // The I/O thread has stopped: the backend may be torn down from here.
  if (network_driver_) {
    network_driver_.reset();
    network_.reset();
  }
  peripherals_ = BoardPeripherals{};  // closes the disk images (flush, clear the dirty bit)
  memory_.reset();
}

std::unique_ptr<Board> Machine::take_board() {
  const std::lock_guard lock(board_mutex_);
  if (board_) {
    // Stats count every boot: keep what the outgoing board saw.
    const BusStats ports = board_->port_stats();
    const BusStats mmio = board_->mmio_stats();
    retired_ports_.unknown_reads += ports.unknown_reads;
    retired_ports_.unknown_writes += ports.unknown_writes;
    retired_mmio_.unknown_reads += mmio.unknown_reads;
    retired_mmio_.unknown_writes += mmio.unknown_writes;
  }
  return std::move(board_);
}

void Machine::handle_vcpu_finished(std::uint64_t generation, VcpuResult result) {
  switch (result.outcome) {
    case VcpuOutcome::Stopped:
      return;  // we asked for it
    case VcpuOutcome::Shutdown:
      handle_reset(generation, ResetCause::TripleFault, std::move(result.error));
      return;
    case VcpuOutcome::Failed:
      finish(generation, MachineState::Error, result.reason, std::move(result.error));
      return;
  }
}

void Machine::handle_reset(std::uint64_t generation, ResetCause cause,
                           std::optional<MachineErrorReport> report) {
  {
    const std::lock_guard lock(state_mutex_);
    const std::lock_guard board_lock(board_mutex_);
    if (generation != board_generation_ || finishing_ || !board_) {
      return;  // a second report of the same reset, or the machine is stopping anyway
    }
  }
  if (cause == ResetCause::TripleFault &&
      std::chrono::steady_clock::now() - booted_at_ < kResetLoopWindow) {
    ++quick_triple_faults_;
  } else {
    quick_triple_faults_ = cause == ResetCause::TripleFault ? 1 : 0;
  }
  if (quick_triple_faults_ >= kResetLoopLimit) {
    MachineErrorReport error = report.value_or(MachineErrorReport{});
    error.message = "the guest triple-faulted " + std::to_string(quick_triple_faults_) +
                    " times in a row, each within " +
                    std::to_string(kResetLoopWindow.count()) +
                    " s of booting: stopped instead of rebooting again (" +
                    (error.message.empty() ? std::string("triple fault") : error.message) + ")";
    finish(generation, MachineState::Error, stop_reason::kResetLoop, std::move(error));
    return;
  }

  std::unique_ptr<Board> old_board = take_board();
  old_board->request_stop();
  old_board->join();
  connect_board_devices(nullptr);
  old_board->detach_io(io_);
  old_board.reset();
  if (network_) {
    network_->set_frame_sink({});  // the old NIC is gone; the new one sets its own
  }
  {
    const std::lock_guard lock(state_mutex_);
    ++resets_;
    events_.on_reset(cause, config_.reboot_on_reset);
  }
  if (!config_.reboot_on_reset) {
    finish(generation, MachineState::Stopped, stop_reason::kReset, std::nullopt);
    return;
  }

  std::unique_ptr<Board> board;
  try {
    memory_->discard_all();
    board = build_board();  // bumps board_generation_: late reports of the old boot are ignored
    board->attach_io(io_);
    connect_board_devices(board.get());
  } catch (const std::exception& error) {
    finish(generation, MachineState::Error, stop_reason::kVmmFailure, vmm_failure(error));
    return;
  }
  const std::lock_guard lock(state_mutex_);
  if (finishing_) {
    return;
  }
  const bool was_paused = state_ == MachineState::Paused;
  state_ = MachineState::Running;
  {
    const std::lock_guard board_lock(board_mutex_);
    board_ = std::move(board);
    if (pausing_) {
      board_->request_pause();  // asked for during the reboot: it completes on the new board
    }
    booted_at_ = std::chrono::steady_clock::now();
    board_->start();
  }
  if (was_paused) {
    events_.on_state_changed(MachineState::Running, "");
  }
}

void Machine::finish(std::uint64_t generation, MachineState final_state, std::string_view reason,
                     std::optional<MachineErrorReport> error) {
  {
    const std::lock_guard lock(state_mutex_);
    if (finishing_ || state_ == MachineState::Stopped || state_ == MachineState::Error) {
      return;
    }
    const std::lock_guard board_lock(board_mutex_);
    // A report from a board that a reboot already replaced no longer applies.
    if (generation != kAnyBoot && generation != board_generation_) {
      return;
    }
    finishing_ = true;
  }
  halt_probe_timer_.arm(0);
  std::unique_ptr<Board> board = take_board();
  if (board) {
    board->request_stop();
    board->join();
    connect_board_devices(nullptr);
    board->detach_io(io_);
  }
  board.reset();
  const std::lock_guard lock(state_mutex_);
  state_ = final_state;
  pausing_ = false;
  if (error) {
    events_.on_error(*error);
  }
  events_.on_state_changed(final_state, reason);
}

void Machine::on_halt_probe_tick() {
  std::uint64_t generation = 0;
  {
    const std::lock_guard lock(state_mutex_);
    if (state_ != MachineState::Running || pausing_ || finishing_) {
      return;
    }
    const std::lock_guard board_lock(board_mutex_);
    if (!board_ || !board_->probe_for_halt()) {
      return;
    }
    generation = board_generation_;
  }
  finish(generation, MachineState::Stopped, stop_reason::kHalted, std::nullopt);
}

MachineState Machine::state() const {
  const std::lock_guard lock(state_mutex_);
  return state_;
}

bool Machine::closed() const {
  const std::lock_guard lock(state_mutex_);
  return closed_;
}

MachineStats Machine::stats() const {
  MachineStats stats;
  {
    const std::lock_guard lock(board_mutex_);
    stats.ports = retired_ports_;
    stats.mmio = retired_mmio_;
    if (board_) {
      const BusStats ports = board_->port_stats();
      const BusStats mmio = board_->mmio_stats();
      stats.ports.unknown_reads += ports.unknown_reads;
      stats.ports.unknown_writes += ports.unknown_writes;
      stats.mmio.unknown_reads += mmio.unknown_reads;
      stats.mmio.unknown_writes += mmio.unknown_writes;
    }
  }
  stats.serial_bytes_out = serial_bytes_out_.load(std::memory_order_relaxed);
  const std::lock_guard lock(state_mutex_);
  stats.resets = resets_;
  return stats;
}

}  // namespace nestbox
