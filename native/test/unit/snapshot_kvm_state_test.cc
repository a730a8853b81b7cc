// Snapshot and restore of a real (tiny) KVM virtual machine: a few
// instructions of real-mode code run, the vCPU stops at an IN instruction,
// its state, the VM state and RAM are saved, and a brand-new VM built from
// them finishes the program. Needs /dev/kvm: without it these tests FAIL.
#include <doctest/doctest.h>
#include <linux/kvm.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kvm/kvm_system.h"
#include "kvm/kvm_vcpu.h"
#include "kvm/kvm_vm.h"
#include "kvm/vcpu_state.h"
#include "kvm/vm_state.h"
#include "memory/guest_memory.h"
#include "snapshot/core_sections.h"
#include "snapshot/kvm_state_codec.h"
#include "snapshot/ram_file.h"
#include "snapshot/state_file.h"
#include "snapshot_test_support.h"

using nestbox::GuestMemory;
using nestbox::GuestRamRegion;
using namespace nestbox::kvm;
using namespace nestbox::snapshot;

namespace {

constexpr std::uint64_t kRamSize = 1 << 20;
constexpr std::uint64_t kCodeAddress = 0x1000;
constexpr std::uint64_t kDataAddress = 0x2000;
constexpr std::uint64_t kTssAddress = 0xfffbd000;
constexpr std::uint16_t kInPort = 0x10;
constexpr std::uint16_t kOutPort = 0x11;
constexpr std::uint8_t kInValue = 0x5a;

// Real-mode code:
//   mov ax, 0x1234 ; mov bx, 0x5678 ; add ax, bx        ax = 0x68ac
//   mov [0x2000], ax
//   in al, 0x10                                         <- snapshot here; al = 0x5a
//   add ax, [0x2000]                                    ax = 0x685a + 0x68ac = 0xd106
//   out 0x11, ax ; hlt
const std::vector<std::uint8_t> kProgram = {
    0xb8, 0x34, 0x12, 0xbb, 0x78, 0x56, 0x01, 0xd8, 0xa3, 0x00, 0x20, 0xe4,
    0x10, 0x03, 0x06, 0x00, 0x20, 0xe7, 0x11, 0xf4};
constexpr std::uint16_t kExpectedOut = 0xd106;

KvmSystem open_kvm() {
  try {
    return KvmSystem::open();
  } catch (const std::exception& error) {
    FAIL("this test needs a working /dev/kvm: " << error.what());
  }
  throw std::logic_error("unreachable");
}

// A VM as Board builds one: TSS, identity map, irqchip, PIT, RAM in slot 0.
KvmVm create_vm(const KvmSystem& system, const GuestMemory& memory) {
  KvmVm vm = system.create_vm();
  vm.set_tss_address(kTssAddress);
  vm.set_identity_map_address(kTssAddress + 3 * 4096);
  vm.create_irqchip();
  vm.create_pit2();
  vm.set_user_memory_region(0, 0, memory.regions()[0].size, memory.host_address_of_region(0));
  return vm;
}

// Runs until an exit KVM does not handle itself, retrying interruptions.
const kvm_run& run_to_exit(KvmVcpu& vcpu) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (vcpu.run() == RunOutcome::Exited) {
      return vcpu.run_area();
    }
  }
  FAIL("the vCPU never exited");
  throw std::logic_error("unreachable");
}

// The 8/16-bit value an I/O exit carries, or where an IN's value goes.
std::uint8_t* io_data(KvmVcpu& vcpu) {
  return vcpu.run_area_bytes().data() + vcpu.run_area().io.data_offset;
}

void load_real_mode_start(const KvmVcpu& vcpu) {
  kvm_sregs sregs = vcpu.get_sregs();
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  sregs.ds.base = 0;
  sregs.ds.selector = 0;
  vcpu.set_sregs(sregs);
  kvm_regs regs{};
  regs.rip = kCodeAddress;
  regs.rflags = 2;  // interrupts off: nothing but our program runs
  vcpu.set_regs(regs);
}

// Offsets in the XSAVE area (Intel SDM vol. 1, 13.4): XMM1 in the legacy
// region, XSTATE_BV in the header.
constexpr std::size_t kXmm1Offset = 160 + 16;
constexpr std::size_t kXstateBvOffset = 512;

constexpr std::uint64_t kFarDeadline = 1ull << 62;

// State a guest could have set, to check it survives: MSRs, FPU, debug registers, XCR0.
void give_distinctive_state(const KvmVcpu& vcpu, const VcpuStateSupport& support) {
  const std::vector<kvm_msr_entry> msrs = {
      {0xc0000081, 0, 0x0023001000000000ull},  // STAR
      {0xc0000082, 0, 0xffffffff81a00000ull},  // LSTAR
      {0x174, 0, 0x10},                        // SYSENTER_CS
      {0x277, 0, 0x0007010600070106ull},       // PAT
      {0x2ff, 0, 0xc06},                       // MTRRdefType: enabled, write-back
      {0x200, 0, 0x80000006},                  // MTRR physbase 0
  };
  CHECK(vcpu.set_msrs(msrs) == msrs.size());
  if (support.xsave) {
    // Through XSAVE: KVM_SET_FPU writes the legacy area but leaves the XSAVE
    // header's XSTATE_BV alone, so x87/SSE state set that way can read back
    // as the init state.
    std::vector<std::uint8_t> area = vcpu.get_xsave(support.xsave_size, support.xsave_size != 0);
    area[0] = 0x7f;  // FCW 0x027f
    area[1] = 0x02;
    for (int i = 0; i < 16; ++i) area[kXmm1Offset + i] = static_cast<std::uint8_t>(0xa0 + i);
    area[kXstateBvOffset] |= 0x3;  // x87 and SSE state present
    vcpu.set_xsave(area);
  } else {
    kvm_fpu fpu = vcpu.get_fpu();
    fpu.fcw = 0x27f;
    for (int i = 0; i < 16; ++i) fpu.xmm[1][i] = static_cast<std::uint8_t>(0xa0 + i);
    vcpu.set_fpu(fpu);
  }
  // The LAPIC timer in TSC-deadline mode (masked, far in the future): the
  // deadline MSR only keeps its value in that mode, so this checks that the
  // restore puts the LAPIC before the MSRs.
  kvm_lapic_state lapic = vcpu.get_lapic();
  const auto set_lapic_register = [&](std::size_t offset, std::uint32_t value) {
    std::memcpy(lapic.regs + offset, &value, sizeof value);
  };
  std::uint32_t svr = 0;
  std::memcpy(&svr, lapic.regs + 0xf0, sizeof svr);
  set_lapic_register(0xf0, svr | 0x100);                       // software-enable
  set_lapic_register(0x320, (2u << 17) | (1u << 16) | 0xec);  // LVTT: TSC deadline, masked
  vcpu.set_lapic(lapic);
  const std::vector<kvm_msr_entry> deadline = {{kMsrTscDeadline, 0, kFarDeadline}};
  CHECK(vcpu.set_msrs(deadline) == 1);
  if (support.debugregs) {
    kvm_debugregs debugregs = vcpu.get_debugregs();
    debugregs.db[0] = 0x123456;
    debugregs.db[3] = 0xfedcba;
    vcpu.set_debugregs(debugregs);
  }
  if (support.xcrs) {
    kvm_xcrs xcrs = vcpu.get_xcrs();
    REQUIRE(xcrs.nr_xcrs >= 1);
    xcrs.xcrs[0].value = 0x3;  // x87 | SSE
    vcpu.set_xcrs(xcrs);
  }
}

std::optional<std::uint64_t> msr_value(const VcpuState& state, std::uint32_t index) {
  for (const kvm_msr_entry& msr : state.msrs) {
    if (msr.index == index) return msr.data;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("needs /dev/kvm: snapshot: a running tiny VM is saved and a new VM resumes it exactly") {
  const KvmSystem system = open_kvm();
  const std::vector<kvm_cpuid_entry2> cpuid = system.supported_cpuid();
  const std::vector<GuestRamRegion> regions{{0, kRamSize}};

  // --- The original VM runs up to the IN instruction.
  const GuestMemory memory = GuestMemory::allocate(regions);
  memory.write(kCodeAddress, kProgram);
  KvmVm vm = create_vm(system, memory);
  const VcpuStateSupport support = probe_vcpu_state_support(system, vm);
  CHECK_FALSE(support.msr_indices.empty());
  KvmVcpu vcpu = vm.create_vcpu(0);
  vcpu.set_cpuid(cpuid);
  load_real_mode_start(vcpu);
  give_distinctive_state(vcpu, support);

  // The in-kernel PIT, PIC and IOAPIC get distinctive state too.
  kvm_pit_state2 pit = vm.get_pit2();
  pit.channels[0].count = 0x4a9;
  pit.channels[0].mode = 2;
  vm.set_pit2(pit);
  kvm_irqchip pic = vm.get_irqchip(KVM_IRQCHIP_PIC_MASTER);
  pic.chip.pic.imr = 0xfa;
  vm.set_irqchip(pic);
  kvm_irqchip ioapic = vm.get_irqchip(KVM_IRQCHIP_IOAPIC);
  ioapic.chip.ioapic.redirtbl[5].bits = 0x10035;  // masked, vector 0x35
  vm.set_irqchip(ioapic);

  const kvm_run& exit = run_to_exit(vcpu);
  REQUIRE(exit.exit_reason == KVM_EXIT_IO);
  REQUIRE(exit.io.direction == KVM_EXIT_IO_IN);
  REQUIRE(exit.io.port == kInPort);
  *io_data(vcpu) = kInValue;
  // KVM finishes the IN (AL, RIP) only on the next KVM_RUN: complete it
  // without running further, as a pausing vCPU thread must.
  REQUIRE(vcpu.complete_pending_exit() == RunOutcome::Interrupted);

  // --- Save everything to files, as a snapshot would.
  const VcpuState saved = save_vcpu_state(vcpu, support);

  const VmState saved_vm = save_vm_state(vm);
  CHECK((saved.regs.rax & 0xffff) == 0x685a);
  CHECK(saved.regs.rip == kCodeAddress + 13);  // just past the IN
  CHECK(saved.cpuid.size() == cpuid.size());
  CHECK(saved.sregs2.has_value() == support.sregs2);
  CHECK(saved.xsave.empty() == !support.xsave);
  CHECK(msr_value(saved, 0xc0000082) == 0xffffffff81a00000ull);
  CHECK(msr_value(saved, 0x2ff) == 0xc06);
  REQUIRE(msr_value(saved, kMsrTsc).has_value());
  CHECK(msr_value(saved, kMsrTscDeadline) == kFarDeadline);

  nestbox::test::SnapshotTempDir dir;
  const std::string ram_path = dir.file("ram");
  const std::string state_path = dir.file("machine.state");
  const std::uint64_t written = write_ram_file(memory, ram_path);
  CHECK(written >= 2 * 4096);  // the code page and the data page
  CHECK(written <= 16 * 4096);
  StateFileWriter writer;
  writer.add(kRamSectionTag, kRamSectionVersion, encode_ram_section(regions));
  writer.add(kVcpuSectionTag, kVcpuSectionVersion, encode_vcpu_section(std::vector<VcpuState>{saved}));
  writer.add(kKvmVmSectionTag, kKvmVmSectionVersion, encode_kvm_vm_section(saved_vm));
  writer.write(state_path);

  // The original keeps going and scribbles on RAM: the snapshot must not see it.
  memory.write_object(kDataAddress, std::uint16_t{0x0bad});

  // --- Restore into a brand-new VM, without loading any program.
  const std::vector<SectionSpec> specs = core_section_specs();
  const StateFile state = StateFile::read(state_path, specs);
  const RamLayout layout = decode_ram_section(state.reader(kRamSectionTag));
  const std::vector<VcpuState> vcpus = decode_vcpu_section(state.reader(kVcpuSectionTag));
  const VmState vm_state = decode_kvm_vm_section(state.reader(kKvmVmSectionTag));
  REQUIRE(vcpus.size() == 1);

  const GuestMemory restored_memory = map_ram_file(layout, ram_path);
  KvmVm restored_vm = create_vm(system, restored_memory);
  const VcpuStateSupport restored_support = probe_vcpu_state_support(system, restored_vm);
  KvmVcpu restored = restored_vm.create_vcpu(0);
  // No set_cpuid here: the restore sets the snapshot's CPUID first.
  const VcpuRestoreNotes notes = restore_vcpu_state(restored, vcpus[0], restored_support);
  CHECK(notes.refused_msrs.empty());
  CHECK_FALSE(notes.tsc_rate_differs);
  const bool clock_set = restore_vm_state(restored_vm, vm_state);
  CHECK(clock_set == (saved_vm.clock.clock != 0));

  // --- The restored state reads back as saved.
  const VcpuState back = save_vcpu_state(restored, restored_support);
  REQUIRE(back.cpuid.size() == saved.cpuid.size());
  CHECK(std::memcmp(back.cpuid.data(), saved.cpuid.data(),
                    saved.cpuid.size() * sizeof(kvm_cpuid_entry2)) == 0);
  CHECK(back.mp_state == saved.mp_state);
  CHECK(std::memcmp(&back.regs, &saved.regs, sizeof back.regs) == 0);
  if (saved.sregs2) {
    CHECK(back.sregs2->cr0 == saved.sregs2->cr0);
    CHECK(back.sregs2->efer == saved.sregs2->efer);
    CHECK(back.sregs2->apic_base == saved.sregs2->apic_base);
    CHECK(std::memcmp(&back.sregs2->cs, &saved.sregs2->cs, sizeof(kvm_segment)) == 0);
    CHECK(std::memcmp(&back.sregs2->gdt, &saved.sregs2->gdt, sizeof(kvm_dtable)) == 0);
  }
  const kvm_fpu fpu = restored.get_fpu();
  CHECK(fpu.fcw == 0x27f);
  CHECK(fpu.xmm[1][15] == 0xaf);
  if (saved.debugregs) {
    CHECK(back.debugregs->db[0] == 0x123456);
    CHECK(back.debugregs->db[3] == 0xfedcba);
  }
  if (saved.xcrs) {
    CHECK(back.xcrs->xcrs[0].value == 0x3);
  }
  // The LAPIC's registers (its ID, TPR, LVTs, SVR) match; the timer's
  // current count (0x390) moves with time and is not compared.
  CHECK(std::memcmp(back.lapic.regs, saved.lapic.regs, 0x390) == 0);
  for (const kvm_msr_entry& msr : saved.msrs) {
    CAPTURE(msr.index);
    const std::optional<std::uint64_t> value = msr_value(back, msr.index);
    REQUIRE(value.has_value());
    if (msr.index == kMsrTsc) {
      // Guest time resumes where it stopped: the TSC did not jump back, and
      // moved on by no more than the time this test took (well under 60 s).
      CHECK(*value >= msr.data);
      CHECK(*value - msr.data < 60ull * 4'000'000'000ull);
    } else {
      CHECK(*value == msr.data);
    }
  }
  REQUIRE(back.events.has_value() == saved.events.has_value());
  if (saved.events) {
    CHECK(back.events->interrupt.shadow == saved.events->interrupt.shadow);
    CHECK(back.events->exception.injected == saved.events->exception.injected);
    CHECK(back.events->nmi.pending == saved.events->nmi.pending);
  }
  const VmState vm_back = save_vm_state(restored_vm);
  CHECK(vm_back.pit.channels[0].count == 0x4a9);
  CHECK(vm_back.pit.channels[0].mode == 2);
  CHECK(vm_back.pic_master.chip.pic.imr == 0xfa);
  CHECK(vm_back.ioapic.chip.ioapic.redirtbl[5].bits == 0x10035);
  if (clock_set) {
    CHECK(vm_back.clock.clock >= saved_vm.clock.clock);
  }

  // --- And it finishes the program: no re-executed IN, the snapshot's RAM.
  const kvm_run& out = run_to_exit(restored);
  REQUIRE(out.exit_reason == KVM_EXIT_IO);
  CHECK(out.io.direction == KVM_EXIT_IO_OUT);
  CHECK(out.io.port == kOutPort);
  CHECK(out.io.size == 2);
  std::uint16_t value = 0;
  std::memcpy(&value, io_data(restored), sizeof value);
  CHECK(value == kExpectedOut);
  const VcpuState after = save_vcpu_state(restored, restored_support);
  CHECK((after.regs.rbx & 0xffff) == 0x5678);

  // The guest's writes stayed private to the restored VM.
  CHECK(restored_memory.read_object<std::uint16_t>(kDataAddress) == 0x68ac);
  const GuestMemory reread = GuestMemory::map_file_private(regions, ram_path);
  CHECK(reread.read_object<std::uint16_t>(kDataAddress) == 0x68ac);
}

TEST_CASE("needs /dev/kvm: snapshot: the probe finds the state ioctls and a readable MSR list") {
  const KvmSystem system = open_kvm();
  const GuestMemory memory = GuestMemory::allocate({{0, kRamSize}});
  const KvmVm vm = create_vm(system, memory);
  const VcpuStateSupport support = probe_vcpu_state_support(system, vm);
  // PLATFORM-NOTES: present on the build machines and on every desktop KVM
  // new enough to run Nestbox.
  CHECK(support.xsave);
  CHECK(support.xcrs);
  CHECK(support.debugregs);
  CHECK(support.vcpu_events);
  if (support.xsave_size != 0) {
    CHECK(support.xsave_size >= 4096);
  }
  // TSC is always listed; the MTRRs are added by hand.
  CHECK(std::find(support.msr_indices.begin(), support.msr_indices.end(), kMsrTsc) !=
        support.msr_indices.end());
  CHECK(std::find(support.msr_indices.begin(), support.msr_indices.end(), 0x2ffu) !=
        support.msr_indices.end());
}

TEST_CASE("snapshot: MSRs restore with the TSC first and the TSC deadline last") {
  const std::vector<kvm_msr_entry> msrs = {
      {kMsrTscDeadline, 0, 1}, {0x174, 0, 2}, {kMsrTsc, 0, 3}, {0x277, 0, 4}};
  const std::vector<kvm_msr_entry> ordered = msrs_in_restore_order(msrs);
  REQUIRE(ordered.size() == 4);
  CHECK(ordered[0].index == kMsrTsc);
  CHECK(ordered[1].index == 0x174);
  CHECK(ordered[2].index == 0x277);
  CHECK(ordered[3].index == kMsrTscDeadline);
}
