// InterruptLine on KVM's in-kernel PIC/IOAPIC, one GSI per line.
//
// Both levels and pulses go through KVM_IRQ_LINE, a VM ioctl that any thread
// may call and that never waits for a vCPU. That models the wire exactly: a
// level-triggered IOAPIC pin stays asserted while the device holds it high and
// KVM re-delivers after the guest's EOI if it still is (remote IRR), with no
// user-space round trip per EOI. irqfd with a resample fd would avoid the
// ioctl's syscall from the vCPU thread, but needs an eventfd pair per line and
// an I/O-thread round trip on every EOI to re-check the device; for the
// low-rate ISA lines here (UART, RTC, i8042, SCI) that buys nothing, so irqfd
// (kvm::KvmVm::assign_irqfd) is kept for virtio's MSI-less fallback and
// ioeventfd-driven devices later.
#pragma once

#include <cstdint>
#include <mutex>

#include "devices/interrupt_line.h"
#include "kvm/kvm_vm.h"

namespace nestbox {

class KvmInterruptLine : public InterruptLine {
 public:
  KvmInterruptLine(const kvm::KvmVm& vm, std::uint32_t gsi) : vm_(vm), gsi_(gsi) {}

  void set_level(bool asserted) override {
    const std::lock_guard lock(mutex_);
    if (asserted == level_) {
      return;  // no edge: spare the syscall
    }
    level_ = asserted;
    vm_.set_irq_line(gsi_, asserted);
  }

  void pulse() override {
    const std::lock_guard lock(mutex_);
    vm_.set_irq_line(gsi_, true);
    vm_.set_irq_line(gsi_, level_);
  }

  [[nodiscard]] std::uint32_t gsi() const { return gsi_; }

 private:
  const kvm::KvmVm& vm_;
  std::uint32_t gsi_;
  std::mutex mutex_;
  bool level_ = false;
};

}  // namespace nestbox
