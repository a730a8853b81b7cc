#include "machine/machine.h"

#include <string>
#include <utility>

#include "arch/x86/boot_cpu_state.h"
#include "arch/x86/boot_params_builder.h"
#include "arch/x86/e820.h"
#include "arch/x86/kernel_file.h"
#include "arch/x86/kernel_loader.h"
#include "arch/x86/long_mode_setup.h"
#include "arch/x86/memory_layout.h"
#include "common/hex.h"
#include "common/nestbox_error.h"
#include "machine/vcpu_setup.h"

namespace nestbox {

namespace {

// How much each outcome says about the machine; the most serious one wins.
int severity(VcpuOutcome outcome) {
  switch (outcome) {
    case VcpuOutcome::Halted: return 0;
    case VcpuOutcome::PoweredOff: return 1;
    case VcpuOutcome::Shutdown: return 2;
    case VcpuOutcome::Failed: return 3;
  }
  return 3;
}

x86::LoadedKernel load_kernel_file(const MachineConfig& config, const GuestMemory& memory) {
  const std::vector<std::uint8_t> image = x86::read_kernel_file(config.kernel_path);
  try {
    x86::LoadedKernel kernel = x86::load_kernel(image, config.kernel_format, memory);
    if (kernel.entry_point >= x86::layout::kIdentityMappedSize) {
      throw NestboxError(ErrorCode::UnsupportedKernel,
                         "the entry point " + to_hex(kernel.entry_point) +
                             " is above 4 GiB, outside the boot page tables");
    }
    return kernel;
  } catch (const NestboxError& error) {
    // Loader messages describe the image; say which file they are about.
    throw NestboxError(error.code(), config.kernel_path + ": " + error.what());
  }
}

}  // namespace

Machine::Machine(const MachineConfig& config, MachineEventSink& events,
                 const std::string& kvm_device_path)
    : events_(events), system_(kvm::KvmSystem::open(kvm_device_path)) {
  validate_machine_config(
      config, current_host_limits(static_cast<std::uint32_t>(system_.max_vcpus())));

  memory_.emplace(GuestMemory::allocate(x86::layout::guest_ram_regions(config.memory_mib << 20)));
  const GuestMemory& memory = *memory_;

  const x86::LoadedKernel kernel = load_kernel_file(config, memory);
  const std::vector<x86::E820Entry> e820 = x86::build_e820_map(memory.regions());
  try {
    x86::write_boot_params(memory, {kernel.linux_setup_header, config.command_line, e820});
  } catch (const NestboxError& error) {
    throw NestboxError(error.code(), std::string("cmdline: ") + error.what());
  }
  const x86::LongModeState long_mode = x86::install_long_mode_tables(memory);

  vm_.emplace(system_.create_vm());
  vm_->set_tss_address(x86::layout::kTssAddress);
  for (std::size_t slot = 0; slot < memory.regions().size(); ++slot) {
    const GuestRamRegion& region = memory.regions()[slot];
    vm_->set_user_memory_region(static_cast<std::uint32_t>(slot), region.guest_address,
                                region.size, memory.host_address_of_region(slot));
  }

  com1_ = std::make_shared<SerialPort>([this](std::span<const std::uint8_t> bytes) {
    serial_bytes_out_.fetch_add(bytes.size(), std::memory_order_relaxed);
    events_.on_serial_output(bytes);
  });
  port_bus_.attach(kCom1Port, uart::kRegisterCount, com1_);

  const std::vector<kvm_cpuid_entry2> supported_cpuid = system_.supported_cpuid();
  for (std::uint32_t index = 0; index < config.cpus; ++index) {
    kvm::KvmVcpu vcpu = vm_->create_vcpu(index);
    const std::vector<kvm_cpuid_entry2> cpuid = guest_cpuid(supported_cpuid, index);
    vcpu.set_cpuid(cpuid);
    if (index == 0) {
      load_boot_cpu_state(vcpu, x86::BootCpuState{long_mode, kernel.entry_point,
                                                  x86::layout::kBootStackTop,
                                                  x86::layout::kBootParamsAddress,
                                                  x86::kRflagsReservedBit1});
    }
    vcpus_.push_back(std::make_unique<VcpuThread>(
        index, std::move(vcpu), port_bus_, mmio_bus_,
        [this](std::uint32_t vcpu_index, VcpuResult result) {
          on_vcpu_finished(vcpu_index, std::move(result));
        }));
  }
}

Machine::~Machine() { close(); }

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
  vcpus_running_ = vcpus_.size();
  // Announce before any vCPU runs, so "running" precedes everything the guest does.
  events_.on_state_changed(MachineState::Running, "");
  for (const auto& vcpu : vcpus_) {
    vcpu->start();
  }
}

void Machine::power_off() {
  const std::lock_guard lock(state_mutex_);
  if (state_ == MachineState::Created) {
    state_ = MachineState::Stopped;
    events_.on_state_changed(MachineState::Stopped, stop_reason::kPoweredOff);
    return;
  }
  if (state_ == MachineState::Running) {
    for (const auto& vcpu : vcpus_) {
      vcpu->request_stop();
    }
  }
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
  for (const auto& vcpu : vcpus_) {
    vcpu->join();
  }
  // Every thread has finished: release vCPUs, then the VM, then its memory.
  vcpus_.clear();
  vm_.reset();
  memory_.reset();
}

void Machine::on_vcpu_finished(std::uint32_t /*vcpu_index*/, VcpuResult result) {
  const std::lock_guard lock(state_mutex_);
  if (!worst_outcome_ || severity(result.outcome) > severity(*worst_outcome_)) {
    worst_outcome_ = result.outcome;
    stop_reason_ = result.reason;
    if (result.error) {
      error_ = std::move(result.error);
    }
  }
  // A triple fault or a failure ends the whole machine, not just this vCPU.
  if (result.outcome == VcpuOutcome::Shutdown || result.outcome == VcpuOutcome::Failed) {
    for (const auto& vcpu : vcpus_) {
      vcpu->request_stop();
    }
  }
  if (--vcpus_running_ > 0) {
    return;
  }
  if (error_) {
    state_ = MachineState::Error;
    events_.on_error(*error_);
  } else {
    state_ = MachineState::Stopped;
  }
  events_.on_state_changed(state_, stop_reason_);
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
  return MachineStats{port_bus_.stats(), mmio_bus_.stats(),
                      serial_bytes_out_.load(std::memory_order_relaxed)};
}

}  // namespace nestbox
