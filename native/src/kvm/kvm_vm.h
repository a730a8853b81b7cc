// A KVM virtual machine fd: memory slots, the in-kernel interrupt controllers
// and timer, interrupt injection, and vCPU creation. Every method here is a VM
// ioctl: safe from any thread, never waits for a vCPU.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/unique_fd.h"
#include "kvm/kvm_vcpu.h"

namespace nestbox::kvm {

class KvmVm {
 public:
  KvmVm(UniqueFd fd, std::size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

  // Maps [guest_physical_address, +size) of guest memory onto host memory at `host_address`.
  void set_user_memory_region(std::uint32_t slot, std::uint64_t guest_physical_address,
                              std::uint64_t size, void* host_address) const;
  // Intel VMX needs a 3-page region for its real-mode TSS; harmless elsewhere.
  void set_tss_address(std::uint64_t guest_physical_address) const;
  // Intel VMX's one-page identity map for real mode (unrestricted guests do not use it).
  void set_identity_map_address(std::uint64_t guest_physical_address) const;

  // KVM_CREATE_IRQCHIP: the in-kernel PIC pair, IOAPIC and a LAPIC per vCPU.
  // Must come before any vCPU is created.
  void create_irqchip() const;
  // KVM_CREATE_PIT2: the in-kernel i8254 on GSI 0; the speaker port is left to
  // us (KVM_PIT_SPEAKER_DUMMY makes port 0x61 read sensibly).
  void create_pit2() const;
  // KVM_SET_GSI_ROUTING: replaces the whole GSI routing table.
  void set_gsi_routing(std::span<const kvm_irq_routing_entry> routes) const;
  // KVM_IRQ_LINE: drive a GSI's input level (1 asserted, 0 deasserted).
  void set_irq_line(std::uint32_t gsi, bool level) const;
  // KVM_IRQFD: writing `event_fd` raises `gsi` (an edge: KVM asserts and
  // deasserts). With `resample_fd`, the GSI stays asserted until the guest
  // EOIs it, then KVM deasserts and signals `resample_fd` (level lines).
  void assign_irqfd(int event_fd, std::uint32_t gsi, std::optional<int> resample_fd) const;
  void deassign_irqfd(int event_fd, std::uint32_t gsi) const;
  // KVM_IOEVENTFD: a guest write of `length` bytes to `address` (MMIO, or a
  // port when `port_io`) signals `event_fd` without an exit to user space.
  void assign_ioeventfd(int event_fd, std::uint64_t address, std::uint32_t length, bool port_io,
                        std::optional<std::uint64_t> match_value) const;
  void deassign_ioeventfd(int event_fd, std::uint64_t address, std::uint32_t length, bool port_io,
                          std::optional<std::uint64_t> match_value) const;
  // KVM_SIGNAL_MSI: inject a message-signalled interrupt. Returns false when
  // the guest had it blocked (KVM answers 0).
  bool signal_msi(std::uint64_t address, std::uint32_t data) const;

  [[nodiscard]] KvmVcpu create_vcpu(std::uint32_t vcpu_id) const;

  // KVM_CHECK_EXTENSION on the VM fd: 0 when absent. Some answers are per VM
  // (KVM_CAP_XSAVE2 returns the XSAVE buffer size for this VM's vCPUs).
  [[nodiscard]] int check_extension(int capability) const;

  // --- State for snapshots (see kvm/vm_state.h). Not while vCPUs run.
  // KVM_GET/SET_IRQCHIP: `chip_id` is KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE or _IOAPIC.
  [[nodiscard]] kvm_irqchip get_irqchip(std::uint32_t chip_id) const;
  void set_irqchip(const kvm_irqchip& chip) const;
  [[nodiscard]] kvm_pit_state2 get_pit2() const;
  void set_pit2(const kvm_pit_state2& pit) const;
  // KVM_GET/SET_CLOCK: the VM's kvmclock (nanoseconds), the base of every
  // vCPU's pvclock.
  [[nodiscard]] kvm_clock_data get_clock() const;
  void set_clock(const kvm_clock_data& clock) const;

  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::size_t vcpu_mmap_size_;
};

}  // namespace nestbox::kvm
