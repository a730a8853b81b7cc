// The VM-wide state KVM holds on x86 when the interrupt controllers and the
// PIT are in the kernel: the two 8259 PICs, the IOAPIC, the 8254 PIT and the
// kvmclock. Guest RAM, vCPUs and our own devices are saved elsewhere.
//
// Restore order (the caller's part): create the VM, KVM_CREATE_IRQCHIP,
// KVM_CREATE_PIT2, GSI routing and all memory slots; create the vCPUs and
// restore each (kvm/vcpu_state.h); then restore_vm_state(), which sets the
// PIT, then the clock, then the irqchips. Irqchips last: restoring the PIT
// can raise its IRQ 0 into the PIC/IOAPIC, and the saved irqchip state must
// be what remains. Clock after the vCPUs' kvmclock MSRs, so the update it
// requests lands in the guest's pvclock pages. Devices come after all this.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

namespace nestbox::kvm {

class KvmVm;

struct VmState {
  kvm_irqchip pic_master{};
  kvm_irqchip pic_slave{};
  kvm_irqchip ioapic{};
  kvm_pit_state2 pit{};
  // KVM_GET_CLOCK. On some hosts (the nested "kvm-pvm" KVM of the project's
  // build machines) it reads 0; a zero clock is not restored (see
  // restore_vm_state), since setting kvmclock to 0 would make a guest's clock
  // jump back to its boot time.
  kvm_clock_data clock{};
};

// The vCPUs must be paused (parked outside KVM_RUN).
[[nodiscard]] VmState save_vm_state(const KvmVm& vm);

// PIT, then kvmclock, then PIC master, PIC slave and IOAPIC. The clock is set
// to the saved value with no flags: guest time resumes where it stopped, as
// the TSC MSRs also do (KVM_CLOCK_REALTIME would advance kvmclock by the wall
// time since the save while the TSC stood still). A saved clock of 0 (an
// unreliable reading) leaves the new VM's clock as KVM started it.
// Returns whether the clock was set.
bool restore_vm_state(const KvmVm& vm, const VmState& state);

}  // namespace nestbox::kvm
