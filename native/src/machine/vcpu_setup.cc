#include "machine/vcpu_setup.h"

namespace nestbox {

kvm_segment to_kvm_segment(const x86::SegmentRegister& segment) {
  const x86::SegmentDescriptor& d = segment.descriptor;
  kvm_segment result{};
  result.base = d.base;
  // KVM wants the limit in bytes; the descriptor holds it in pages when G is set.
  result.limit = d.granularity ? (d.limit << 12) | 0xfff : d.limit;
  result.selector = segment.selector;
  result.type = d.type;
  result.present = d.present ? 1 : 0;
  result.dpl = d.privilege;
  result.db = d.default_32bit ? 1 : 0;
  result.s = d.code_or_data ? 1 : 0;
  result.l = d.long_mode ? 1 : 0;
  result.g = d.granularity ? 1 : 0;
  result.avl = d.available ? 1 : 0;
  result.unusable = d.present ? 0 : 1;
  return result;
}

void load_boot_cpu_state(const kvm::KvmVcpu& vcpu, const x86::BootCpuState& state) {
  // Start from KVM's reset state so TR, LDT and the rest stay valid.
  kvm_sregs sregs = vcpu.get_sregs();
  sregs.cs = to_kvm_segment(state.mode.code);
  const kvm_segment data = to_kvm_segment(state.mode.data);
  sregs.ds = data;
  sregs.es = data;
  sregs.fs = data;
  sregs.gs = data;
  sregs.ss = data;
  sregs.gdt.base = state.mode.gdt.base;
  sregs.gdt.limit = state.mode.gdt.limit;
  sregs.idt.base = state.mode.idt.base;
  sregs.idt.limit = state.mode.idt.limit;
  sregs.cr0 = state.mode.cr0;
  sregs.cr3 = state.mode.cr3;
  sregs.cr4 = state.mode.cr4;
  sregs.efer = state.mode.efer;
  vcpu.set_sregs(sregs);

  kvm_regs regs{};
  regs.rip = state.rip;
  regs.rsp = state.rsp;
  regs.rbp = state.rsp;
  regs.rsi = state.rsi;
  regs.rflags = state.rflags;
  vcpu.set_regs(regs);
}

VcpuRegisters read_vcpu_registers(const kvm::KvmVcpu& vcpu) {
  const kvm_regs r = vcpu.get_regs();
  const kvm_sregs s = vcpu.get_sregs();
  return VcpuRegisters{r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp,
                       r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
                       r.rip, r.rflags, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
                       s.cs.selector, s.ss.selector};
}

}  // namespace nestbox
