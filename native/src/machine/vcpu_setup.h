// Puts the architecture's boot state into a KVM vCPU, and reads its registers
// back for error reports. The only place x86 register state meets KVM structs.
#pragma once

#include <linux/kvm.h>

#include "arch/x86/boot_cpu_state.h"
#include "kvm/kvm_vcpu.h"
#include "machine/vcpu_registers.h"

namespace nestbox {

kvm_segment to_kvm_segment(const x86::SegmentRegister& segment);

void load_boot_cpu_state(const kvm::KvmVcpu& vcpu, const x86::BootCpuState& state);

VcpuRegisters read_vcpu_registers(const kvm::KvmVcpu& vcpu);

}  // namespace nestbox
