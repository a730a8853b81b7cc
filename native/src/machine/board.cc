#include "machine/board.h"

#include <string>
#include <utility>

#include "arch/x86/acpi/acpi_tables.h"
#include "arch/x86/boot_cpu_state.h"
#include "arch/x86/boot_params_builder.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/e820.h"
#include "arch/x86/initrd_loader.h"
#include "arch/x86/kernel_loader.h"
#include "arch/x86/lapic.h"
#include "arch/x86/memory_layout.h"
#include "arch/x86/msrs.h"
#include "common/hex.h"
#include "common/nestbox_error.h"
#include "devices/acpi_pm/acpi_pm_block.h"
#include "devices/bus_window.h"
#include "devices/debug_port/post_code_port.h"
#include "devices/device_clock.h"
#include "devices/i8042/i8042_controller.h"
#include "devices/rtc/cmos_rtc.h"
#include "devices/serial/serial_port.h"
#include "kvm/gsi_routing.h"
#include "block/disk_image.h"
#include "devices/virtio/blk/virtio_blk.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/rng/virtio_rng.h"
#include "machine/kvm_interrupt_line.h"
#include "devices/display/bochs_display.h"
#include "devices/display/screen_info.h"
#include "devices/virtio/input/virtio_input.h"
#include "machine/pci_platform.h"
#include "machine/vcpu_setup.h"

namespace nestbox {

namespace {

// Intel VMX's real-mode identity page, right after its TSS (both in the PCI hole).
constexpr std::uint64_t kIdentityMapAddress = x86::layout::kTssAddress + 3 * 4096;

// Loader messages describe the image; say which file they are about.
template <typename Load>
auto naming_file(const std::string& path, Load&& load) {
  try {
    return load();
  } catch (const NestboxError& error) {
    throw NestboxError(error.code(), path + ": " + error.what());
  }
}

// Keeps the RTC's timer at the device's next deadline (I/O thread).
void rearm_rtc_timer(const CmosRtc& rtc, const IoTimer& timer) {
  const std::optional<CmosRtc::Deadline> deadline = rtc.next_deadline();
  if (!deadline) {
    timer.arm(0);
    return;
  }
  const auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(
      *deadline - std::chrono::steady_clock::now());
  // 0 would disarm: a deadline already past fires in 1 ns.
  timer.arm(delay.count() > 0 ? static_cast<std::uint64_t>(delay.count()) : 1);
}

// KVM memory slot of the display's framebuffer (guest RAM uses 0 and 1).
constexpr std::uint32_t kFramebufferMemorySlot = 8;
// boot_params, the "zero page" (screen_info is in its first 64 bytes).
constexpr std::uint64_t kBootParamsPageSize = 4096;

}  // namespace

// The display's VRAM as a KVM memory slot at BAR 0, so guest framebuffer
// stores run at memory speed instead of exiting to us.
class FramebufferSlot final : public display::FramebufferMapper {
 public:
  explicit FramebufferSlot(const kvm::KvmVm& vm) : vm_(vm) {}
  void map_framebuffer(std::uint64_t guest_address, std::uint8_t* host, std::uint64_t size) override {
    vm_.set_user_memory_region(kFramebufferMemorySlot, guest_address, size, host);
  }
  void unmap_framebuffer(std::uint64_t guest_address, std::uint64_t /*size*/) override {
    vm_.set_user_memory_region(kFramebufferMemorySlot, guest_address, 0, nullptr);
  }

 private:
  const kvm::KvmVm& vm_;
};

namespace {

// "00:04.0": how lspci names a function on bus 0.
std::string pci_slot_name(std::uint8_t slot) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("00:") + kDigits[(slot >> 4) & 0xf] + kDigits[slot & 0xf] + ".0";
}

}  // namespace

Board::Board(const kvm::KvmSystem& system, const GuestMemory& memory, const MachineConfig& config,
             const BootImages& images, std::span<const kvm_cpuid_entry2> supported_cpuid,
             const BoardPeripherals& peripherals, BoardCallbacks callbacks, BoardBoot boot)
    : callbacks_(std::move(callbacks)), system_(system), vm_(system.create_vm()), boot_(boot) {
  if (!callbacks_.log) callbacks_.log = [](std::string_view) {};
  // A guest's reset or power-off takes effect at once, as on hardware: no vCPU
  // runs another instruction of this boot while the machine reboots or stops.
  callbacks_.reset_requested = [this, forward = std::move(callbacks_.reset_requested)](
                                   ResetCause cause) {
    request_stop();
    forward(cause);
  };
  callbacks_.power_off_requested = [this, forward = std::move(callbacks_.power_off_requested)] {
    request_stop();
    forward();
  };
  // Before the ACPI tables, which describe it (interrupt routing, windows).
  pci_ = std::make_unique<PciPlatform>(
      vm_, port_bus_, mmio_bus_,
      std::array<std::shared_ptr<InterruptLine>, pci::kIntxLineCount>{
          irq(pci::kIntxFirstGsi), irq(pci::kIntxFirstGsi + 1), irq(pci::kIntxFirstGsi + 2),
          irq(pci::kIntxFirstGsi + 3)});
  if (boot_ == BoardBoot::Kernel) load_boot_images(memory, config, images);

  vm_.set_tss_address(x86::layout::kTssAddress);
  vm_.set_identity_map_address(kIdentityMapAddress);
  // The interrupt controllers and the PIT exist before any vCPU (KVM requires it).
  vm_.create_irqchip();
  vm_.create_pit2();
  vm_.set_gsi_routing(kvm::default_gsi_routes());
  for (std::size_t slot = 0; slot < memory.regions().size(); ++slot) {
    const GuestRamRegion& region = memory.regions()[slot];
    vm_.set_user_memory_region(static_cast<std::uint32_t>(slot), region.guest_address,
                               region.size, memory.host_address_of_region(slot));
  }

  attach_devices(config, memory);
  attach_pci_devices(memory, peripherals);
  create_vcpus(config, supported_cpuid);
}

Board::~Board() {
  request_stop();
  join();
}

void Board::load_boot_images(const GuestMemory& memory, const MachineConfig& config,
                             const BootImages& images) {
  const x86::LoadedKernel kernel = naming_file(config.kernel_path, [&] {
    x86::LoadedKernel loaded = x86::load_kernel(images.kernel, config.kernel_format, memory);
    if (loaded.entry_point >= x86::layout::kIdentityMappedSize) {
      throw NestboxError(ErrorCode::UnsupportedKernel,
                         "the entry point " + to_hex(loaded.entry_point) +
                             " is above 4 GiB, outside the boot page tables");
    }
    return loaded;
  });
  boot_entry_point_ = kernel.entry_point;

  std::optional<x86::LoadedInitrd> initrd;
  if (images.initrd) {
    initrd = naming_file(config.initrd_path,
                         [&] { return x86::load_initrd(*images.initrd, kernel, memory); });
  }

  // ACPI tables describing this board (CPUs, interrupt routing, PM block) go in
  // below 1 MiB; the kernel finds them through boot_params.
  x86::acpi::AcpiPlatform platform;
  platform.cpu_count = config.cpus;  // APIC IDs 0..cpus-1, as KVM assigns them
  platform.pm_base = acpi_pm::kDefaultBasePort;
  platform.system_bus_terms.push_back(pci_->acpi_system_bus_terms());
  platform.extra_tables.push_back(PciPlatform::mcfg_table());
  acpi_rsdp_address_ = x86::acpi::write_acpi_tables(memory, platform).rsdp_address;

  const std::vector<x86::E820Entry> e820 = x86::build_e820_map(memory.regions());
  x86::BootParamsInputs inputs{kernel.linux_setup_header, config.command_line, e820};
  inputs.initrd = initrd;
  inputs.acpi_rsdp_address = acpi_rsdp_address_;
  try {
    x86::write_boot_params(memory, inputs);
  } catch (const NestboxError& error) {
    throw NestboxError(error.code(), std::string("cmdline: ") + error.what());
  }
  long_mode_ = x86::install_long_mode_tables(memory);
}

std::shared_ptr<KvmInterruptLine> Board::irq(std::uint32_t gsi) {
  return std::make_shared<KvmInterruptLine>(vm_, gsi);
}

void Board::attach_devices(const MachineConfig& /*config*/, const GuestMemory& memory) {
  com1_ = std::make_shared<SerialPort>(callbacks_.serial_output, irq(kCom1Gsi));
  port_bus_.attach(kCom1Port, uart::kRegisterCount, com1_);

  // Device callbacks run on vCPU threads; the machine posts the real work to
  // its I/O thread.
  keyboard_ = std::make_shared<I8042Controller>(irq(kKeyboardGsi), [this] {
    callbacks_.reset_requested(ResetCause::KeyboardController);
  });
  port_bus_.attach(kI8042DataPort, 1, keyboard_);
  port_bus_.attach(kI8042CommandPort, 1,
                   std::make_shared<BusWindow>(keyboard_, i8042::kCommandPort));

  post_code_ = std::make_shared<PostCodePort>();
  port_bus_.attach(kPostCodePort, 1, post_code_);

  auto pm = std::make_shared<AcpiPmBlock>(
      host_monotonic_clock(), irq(kSciGsi),
      AcpiPmBlock::Callbacks{[this] { callbacks_.power_off_requested(); },
                             [this] { callbacks_.reset_requested(ResetCause::Acpi); },
                             nullptr});
  port_bus_.attach(acpi_pm::kDefaultBasePort, acpi_pm::kBlockLength, pm);
  power_button_ = [pm] { pm->press_power_button(); };
  pm_ = pm;

  auto rtc = std::make_shared<CmosRtc>(host_wall_clock(), host_monotonic_clock(), irq(kRtcGsi));
  const std::span<const GuestRamRegion> regions = memory.regions();
  rtc->set_memory_size(regions.empty() ? 0 : regions[0].size,
                       regions.size() > 1 ? regions[1].size : 0);
  port_bus_.attach(kRtcPort, rtc::kPortCount, rtc);
  rtc_ = rtc;
  // The RTC's periodic, alarm and update interrupts come from a timer on the
  // I/O thread, kept at the device's next deadline.
  auto timer = std::make_shared<IoTimer>();
  // Weak in the device's own callback (no ownership cycle); the posted task
  // holds both strongly, so it stays safe even if a reboot drops this board first.
  rtc->set_deadline_changed(
      [this, weak_rtc = std::weak_ptr<CmosRtc>(rtc), weak_timer = std::weak_ptr<IoTimer>(timer)] {
        IoThread* io = io_.load();
        auto strong_rtc = weak_rtc.lock();
        auto strong_timer = weak_timer.lock();
        if (io != nullptr && strong_rtc && strong_timer) {
          io->post([strong_rtc, strong_timer] { rearm_rtc_timer(*strong_rtc, *strong_timer); });
        }
      });
  io_attachments_.push_back([this, rtc, timer](IoThread& io) {
    io.watch(timer->fd(), [rtc, timer] {
      timer->consume();
      rtc->tick(std::chrono::steady_clock::now());
      rearm_rtc_timer(*rtc, *timer);
    });
    io_watched_fds_.push_back(timer->fd());
    rearm_rtc_timer(*rtc, *timer);
  });
  io_attachments_.push_back([this](IoThread& io) { pci_->attach_io(io, io_watched_fds_); });
  timers_.push_back(timer);
}

void Board::attach_pci_devices(const GuestMemory& memory, const BoardPeripherals& peripherals) {
  const auto log_as = [this](std::string name) {
    return [this, name = std::move(name)](std::string_view message) {
      callbacks_.log(name + ": " + std::string(message));
    };
  };
  if (peripherals.network != nullptr) {
    pci_->add_virtio(kNetworkPciSlot,
                     std::make_unique<virtio::VirtioNet>(
                         *peripherals.network, peripherals.mac,
                         [this](std::function<void()> task) { post_to_io(std::move(task)); },
                         log_as("virtio-net")),
                     memory, log_as("virtio-net " + pci_slot_name(kNetworkPciSlot)));
  }
  if (peripherals.entropy) {
    pci_->add_virtio(kEntropyPciSlot,
                     std::make_unique<virtio::VirtioRng>(virtio::host_entropy_source()), memory,
                     log_as("virtio-rng " + pci_slot_name(kEntropyPciSlot)));
  }
  for (std::size_t i = 0; i < peripherals.disks.size(); ++i) {
    const BoardDisk& disk = peripherals.disks[i];
    const auto slot = static_cast<std::uint8_t>(kFirstDiskPciSlot + i);
    pci_->add_virtio(slot,
                     std::make_unique<virtio::VirtioBlk>(disk.image, disk.read_only, disk.serial,
                                                         log_as("disk " + disk.image->path())),
                     memory, log_as("virtio-blk " + pci_slot_name(slot)));
  }
  if (peripherals.display) {
    // The pointer needs no grab: an absolute tablet. Keys go to the virtio
    // keyboard once its driver runs, to the i8042 before (InputRouter).
    const auto input = [&](std::uint8_t slot, virtio::InputDeviceKind kind, const char* name) {
      auto function = pci_->add_virtio(slot, std::make_unique<virtio::VirtioInput>(kind, log_as(name)),
                                       memory, log_as(std::string(name) + " " + pci_slot_name(slot)));
      // Aliasing: the device lives as long as its PCI function.
      return std::shared_ptr<virtio::VirtioInput>(
          function, &static_cast<virtio::VirtioInput&>(function->device()));
    };
    virtio_keyboard_ = input(kKeyboardPciSlot, virtio::InputDeviceKind::Keyboard, "virtio-keyboard");
    virtio_tablet_ = input(kTabletPciSlot, virtio::InputDeviceKind::Tablet, "virtio-tablet");
    display_ = std::make_shared<display::BochsDisplay>(display::BochsDisplayConfig{
        std::uint64_t{peripherals.display->vram_mib} << 20,
        display::EdidConfig{peripherals.display->width, peripherals.display->height}});
    pci_->add_function(kDisplayPciSlot, display_);
    port_bus_.attach(display::BochsDisplay::kLegacyPortBase,
                     display::BochsDisplay::kLegacyPortCount, display_->legacy_dispi_ports());
  }
  // Firmware's job, done before the guest runs: BARs placed, decoding on,
  // interrupt lines filled in (and the notify ioeventfds bound).
  pci_->assign_resources();
  if (display_) attach_display(memory, *peripherals.display);
}

void Board::attach_display(const GuestMemory& memory, const DisplayConfig& config) {
  framebuffer_slot_ = std::make_unique<FramebufferSlot>(vm_);
  display_->set_framebuffer_mapper(framebuffer_slot_.get());
  // A snapshot brings its own mode and VRAM, and its RAM must not be written.
  if (boot_ == BoardBoot::Snapshot) return;
  // As firmware leaves it for a directly booted kernel: a linear 32-bpp mode,
  // described in boot_params' screen_info so the console draws on it before
  // any display driver loads.
  display_->set_initial_mode(config.width, config.height);
  display::fill_screen_info(
      memory.span(x86::layout::kBootParamsAddress, kBootParamsPageSize),
      display_->boot_framebuffer(display_->bar_address(display::BochsDisplay::kFramebufferBar)));
}

void Board::post_to_io(std::function<void()> task) {
  if (IoThread* io = io_.load()) io->post(std::move(task));
}

void Board::create_vcpus(const MachineConfig& config,
                         std::span<const kvm_cpuid_entry2> supported) {
  run_control_ = std::make_unique<VcpuRunControl>(config.cpus, callbacks_.all_vcpus_parked);
  const x86::CpuTopology topology{config.cpus};
  const std::vector<x86::MsrValue> msrs = x86::boot_msrs();
  std::vector<kvm_msr_entry> msr_entries;
  for (const x86::MsrValue& value : msrs) {
    kvm_msr_entry entry{};
    entry.index = value.index;
    entry.data = value.value;
    msr_entries.push_back(entry);
  }

  for (std::uint32_t index = 0; index < config.cpus; ++index) {
    // vCPU id = APIC ID = index; KVM makes vCPU 0 the BSP.
    kvm::KvmVcpu vcpu = vm_.create_vcpu(index);
    vcpu.set_cpuid(x86::guest_cpuid(supported, topology, index));
    // KVM stops at the first MSR it refuses (one this host's KVM lacks): skip it.
    for (std::size_t done = 0; done < msr_entries.size();) {
      done += vcpu.set_msrs(std::span(msr_entries).subspan(done));
      if (done < msr_entries.size()) {
        ++done;
      }
    }
    if (boot_ == BoardBoot::Snapshot) {
      // restore_state() sets every register, the LAPIC and the MP state.
    } else if (index == 0) {
      kvm_lapic_state lapic = vcpu.get_lapic();
      x86::lapic::program_boot_cpu_lints(std::span<std::uint8_t, x86::lapic::kRegisterPageSize>(
          reinterpret_cast<std::uint8_t*>(lapic.regs), x86::lapic::kRegisterPageSize));
      vcpu.set_lapic(lapic);
      load_boot_cpu_state(vcpu, x86::BootCpuState{long_mode_, boot_entry_point_,
                                                  x86::layout::kBootStackTop,
                                                  x86::layout::kBootParamsAddress,
                                                  x86::kRflagsReservedBit1});
      vcpu.set_mp_state(KVM_MP_STATE_RUNNABLE);
    } else {
      // Application processors wait for the guest's INIT/SIPI (in-kernel LAPIC).
      vcpu.set_mp_state(KVM_MP_STATE_UNINITIALIZED);
    }
    vcpus_.push_back(std::make_unique<VcpuThread>(index, std::move(vcpu), port_bus_, mmio_bus_,
                                                  *run_control_, callbacks_.vcpu_finished));
  }
  exits_seen_.assign(vcpus_.size(), ~std::uint64_t{0});
}

void Board::start() {
  for (const auto& vcpu : vcpus_) {
    vcpu->start();
  }
}

void Board::request_pause() {
  run_control_->request_pause();
  for (const auto& vcpu : vcpus_) {
    vcpu->kick();
  }
}

void Board::resume() { run_control_->resume(); }

void Board::request_stop() {
  if (!run_control_) {
    return;
  }
  run_control_->request_stop();
  for (const auto& vcpu : vcpus_) {
    vcpu->kick();
  }
}

void Board::join() {
  for (const auto& vcpu : vcpus_) {
    vcpu->join();
  }
}

bool Board::probe_for_halt() {
  bool all_halted = true;
  for (std::size_t i = 0; i < vcpus_.size(); ++i) {
    all_halted = all_halted && vcpus_[i]->halted_for_good();
    const std::uint64_t exits = vcpus_[i]->exit_count();
    if (exits == exits_seen_[i]) {
      vcpus_[i]->probe();  // silent since last time: blocked in the kernel, or busy
    }
    exits_seen_[i] = exits;
  }
  return all_halted && !vcpus_.empty();
}

void Board::attach_io(IoThread& io) {
  io_.store(&io);
  for (const auto& attach : io_attachments_) {
    attach(io);
  }
}

void Board::detach_io(IoThread& io) {
  io_.store(nullptr);
  for (const int fd : io_watched_fds_) {
    io.unwatch(fd);
  }
  io_watched_fds_.clear();
}

std::size_t Board::send_serial_input(std::span<const std::uint8_t> bytes) {
  return com1_->receive(bytes);
}

void Board::press_power_button() {
  if (power_button_) {
    power_button_();
  }
}

}  // namespace nestbox
