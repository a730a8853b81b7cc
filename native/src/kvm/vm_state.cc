#include "kvm/vm_state.h"

#include "kvm/kvm_vm.h"

namespace nestbox::kvm {

VmState save_vm_state(const KvmVm& vm) {
  VmState state;
  state.pic_master = vm.get_irqchip(KVM_IRQCHIP_PIC_MASTER);
  state.pic_slave = vm.get_irqchip(KVM_IRQCHIP_PIC_SLAVE);
  state.ioapic = vm.get_irqchip(KVM_IRQCHIP_IOAPIC);
  state.pit = vm.get_pit2();
  state.clock = vm.get_clock();
  return state;
}

bool restore_vm_state(const KvmVm& vm, const VmState& state) {
  vm.set_pit2(state.pit);
  bool clock_set = false;
  if (state.clock.clock != 0) {
    kvm_clock_data clock{};
    clock.clock = state.clock.clock;
    clock.flags = 0;  // no KVM_CLOCK_REALTIME: do not advance by the wall time since the save
    vm.set_clock(clock);
    clock_set = true;
  }
  // The chip ids are in the saved structs; set them explicitly anyway so a
  // decoded state cannot write one chip's state into another.
  kvm_irqchip chip = state.pic_master;
  chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
  vm.set_irqchip(chip);
  chip = state.pic_slave;
  chip.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  vm.set_irqchip(chip);
  chip = state.ioapic;
  chip.chip_id = KVM_IRQCHIP_IOAPIC;
  vm.set_irqchip(chip);
  return clock_set;
}

}  // namespace nestbox::kvm
