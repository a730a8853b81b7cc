// CPUID topology, boot MSRs, LAPIC LINT programming and GSI routing: the pure
// parts of vCPU and interrupt setup.
#include <doctest/doctest.h>

#include <asm/kvm_para.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "arch/x86/cpuid.h"
#include "arch/x86/lapic.h"
#include "arch/x86/msrs.h"
#include "kvm/gsi_routing.h"

using namespace nestbox;
using namespace nestbox::x86;

namespace {

kvm_cpuid_entry2 entry(std::uint32_t function, std::uint32_t index, std::uint32_t eax,
                       std::uint32_t ebx, std::uint32_t ecx, std::uint32_t edx,
                       std::uint32_t flags = 0) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.flags = flags;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

std::uint32_t text(const char* four) {
  std::uint32_t value;
  std::memcpy(&value, four, 4);
  return value;
}

// A host table shaped like KVM_GET_SUPPORTED_CPUID on an Intel or AMD CPU.
std::vector<kvm_cpuid_entry2> host_cpuid(bool amd) {
  constexpr std::uint32_t kSig = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  std::vector<kvm_cpuid_entry2> table = {
      amd ? entry(0, 0, 0x10, text("Auth"), text("cAMD"), text("enti"))
          : entry(0, 0, 0x1f, text("Genu"), text("ntel"), text("ineI")),
      // leaf 1: host APIC ID 7 and 16 logical CPUs in EBX, HTT set, no hypervisor bit
      entry(1, 0, 0x000a0f10, 0x07100800, 0x7ed8320b, 0x178bfbff),
      // leaf 4: L1d, L2, L3 (type in EAX[4:0], level in [7:5]), then the end marker
      entry(4, 0, 0xfc004121, 0x01c0003f, 0x3f, 0, kSig),
      entry(4, 2, 0xfc004143, 0x01c0003f, 0x3ff, 0, kSig),
      entry(4, 3, 0xfc01c163, 0x03c0003f, 0x3fff, 0, kSig),
      entry(4, 4, 0, 0, 0, 0, kSig),
      entry(0xb, 0, 1, 2, 0x100, 7, kSig),
      entry(0xb, 1, 4, 16, 0x201, 7, kSig),
      entry(0x80000000, 0, 0x80000021, 0, 0, 0),
      entry(0x80000001, 0, 0, 0, 0x75c237ff, 0x2fd3fbff),
      entry(0x80000008, 0, 0x3030, 0, 0x0000700f, 0),
      entry(0x8000001e, 0, 7, 0x00000103, 0x00000300, 0),
      entry(KVM_CPUID_SIGNATURE, 0, KVM_CPUID_FEATURES, 0, 0, 0),
      entry(KVM_CPUID_FEATURES, 0, 0x01007eff, 0, 0, 0),
  };
  if (!amd) {
    table.push_back(entry(0x1f, 0, 1, 2, 0x100, 7, kSig));
  }
  return table;
}

kvm_cpuid_entry2 leaf(const std::vector<kvm_cpuid_entry2>& table, std::uint32_t function,
                      std::uint32_t index = 0) {
  const auto found = find_cpuid_entry(table, function, index);
  REQUIRE(found.has_value());
  return *found;
}

std::size_t count_leaf(const std::vector<kvm_cpuid_entry2>& table, std::uint32_t function) {
  std::size_t count = 0;
  for (const auto& e : table) {
    count += e.function == function ? 1 : 0;
  }
  return count;
}

}  // namespace

TEST_CASE("cpuid: core ID bits for 1, 2, 3, 4, 64 vCPUs") {
  CHECK(CpuTopology{1}.core_id_bits() == 0);
  CHECK(CpuTopology{2}.core_id_bits() == 1);
  CHECK(CpuTopology{3}.core_id_bits() == 2);
  CHECK(CpuTopology{4}.core_id_bits() == 2);
  CHECK(CpuTopology{64}.core_id_bits() == 6);
}

TEST_CASE("cpuid: leaf 1 carries each vCPU's APIC ID, the CPU count and the hypervisor bit") {
  const auto host = host_cpuid(false);
  for (const std::uint32_t cpus : {1u, 2u, 4u, 64u}) {
    CAPTURE(cpus);
    for (const std::uint32_t id : {0u, cpus - 1}) {
      const auto table = guest_cpuid(host, CpuTopology{cpus}, id);
      const auto l1 = leaf(table, 1);
      CHECK((l1.ebx >> 24) == id);
      CHECK(((l1.ebx >> 16) & 0xff) == (cpus == 1 ? 1u : 1u << CpuTopology{cpus}.core_id_bits()));
      CHECK((l1.ebx & 0xffff) == 0x0800);  // CLFLUSH size and brand index kept
      CHECK((l1.ecx & (1u << 31)) != 0);
      CHECK(((l1.edx >> 28) & 1) == (cpus > 1 ? 1u : 0u));
    }
  }
}

TEST_CASE("cpuid: leaf 4 reports cores per package and who shares each cache") {
  const auto table = guest_cpuid(host_cpuid(false), CpuTopology{4}, 1);
  const auto l1d = leaf(table, 4, 0);
  CHECK((l1d.eax >> 26) == 3);              // 4 cores
  CHECK(((l1d.eax >> 14) & 0xfff) == 0);    // L1 per core
  CHECK((l1d.eax & 0x3fff) == 0x0121);      // type and level kept
  const auto l3 = leaf(table, 4, 3);
  CHECK(((l3.eax >> 14) & 0xfff) == 3);     // L3 shared by all 4
  CHECK(leaf(table, 4, 4).eax == 0);        // the end marker stays empty
}

TEST_CASE("cpuid: leaves 0xB and 0x1F describe SMT and core levels with the x2APIC ID") {
  for (const std::uint32_t cpus : {1u, 2u, 4u, 64u}) {
    CAPTURE(cpus);
    const std::uint32_t id = cpus - 1;
    const auto table = guest_cpuid(host_cpuid(false), CpuTopology{cpus}, id);
    for (const std::uint32_t function : {0xbu, 0x1fu}) {
      CHECK(count_leaf(table, function) == 3);
      const auto smt = leaf(table, function, 0);
      CHECK(smt.eax == 0);
      CHECK(smt.ebx == 1);
      CHECK(smt.ecx == 0x100);
      CHECK(smt.edx == id);
      const auto core = leaf(table, function, 1);
      CHECK(core.eax == CpuTopology{cpus}.core_id_bits());
      CHECK(core.ebx == cpus);
      CHECK(core.ecx == 0x201);
      CHECK(core.edx == id);
      const auto end = leaf(table, function, 2);
      CHECK(((end.ecx >> 8) & 0xff) == 0);
    }
  }
  // Not invented when the host's maximum basic leaf does not reach them.
  const auto amd = guest_cpuid(host_cpuid(true), CpuTopology{4}, 0);
  CHECK(count_leaf(amd, 0xb) == 3);
  CHECK(count_leaf(amd, 0x1f) == 0);
}

TEST_CASE("cpuid: AMD core count, CmpLegacy and extended APIC ID") {
  const auto host = host_cpuid(true);
  REQUIRE(is_amd_like(host));
  CHECK_FALSE(is_amd_like(host_cpuid(false)));
  const auto table = guest_cpuid(host, CpuTopology{64}, 63);
  const auto sizes = leaf(table, 0x80000008);
  CHECK((sizes.ecx & 0xff) == 63);
  CHECK(((sizes.ecx >> 12) & 0xf) == 6);
  CHECK(sizes.eax == 0x3030);
  CHECK((leaf(table, 0x80000001).ecx & 2) == 2);
  const auto topo = leaf(table, 0x8000001e);
  CHECK(topo.eax == 63);
  CHECK((topo.ebx & 0xffff) == 63);  // core 63, one thread per core
  CHECK((topo.ecx & 0x7ff) == 0);
  const auto single = guest_cpuid(host, CpuTopology{1}, 0);
  CHECK((leaf(single, 0x80000001).ecx & 2) == 0);
  CHECK((leaf(single, 0x80000008).ecx & 0xff) == 0);
  // Intel keeps 0x80000008 ECX as the host has it.
  CHECK(leaf(guest_cpuid(host_cpuid(false), CpuTopology{4}, 0), 0x80000008).ecx == 0x700f);
}

TEST_CASE("cpuid: the KVM signature and paravirtual features") {
  const auto table = guest_cpuid(host_cpuid(false), CpuTopology{2}, 0);
  CHECK(count_leaf(table, KVM_CPUID_SIGNATURE) == 1);
  const auto signature = leaf(table, KVM_CPUID_SIGNATURE);
  CHECK(signature.eax == KVM_CPUID_FEATURES);
  char name[13] = {};
  std::memcpy(name, &signature.ebx, 4);
  std::memcpy(name + 4, &signature.ecx, 4);
  std::memcpy(name + 8, &signature.edx, 4);
  CHECK(std::string(name) == "KVMKVMKVM");
  const std::uint32_t features = leaf(table, KVM_CPUID_FEATURES).eax;
  for (const int bit : {KVM_FEATURE_CLOCKSOURCE, KVM_FEATURE_CLOCKSOURCE2, KVM_FEATURE_PV_EOI,
                        KVM_FEATURE_STEAL_TIME, KVM_FEATURE_PV_UNHALT, KVM_FEATURE_PV_SEND_IPI,
                        KVM_FEATURE_PV_TLB_FLUSH, KVM_FEATURE_CLOCKSOURCE_STABLE_BIT}) {
    CAPTURE(bit);
    CHECK(((features >> bit) & 1) == 1);
  }
  CHECK(((features >> KVM_FEATURE_ASYNC_PF) & 1) == 0);  // not offered

  // Only what the host supports.
  auto host = host_cpuid(false);
  for (auto& e : host) {
    if (e.function == KVM_CPUID_FEATURES) {
      e.eax &= ~(1u << KVM_FEATURE_PV_SEND_IPI);
    }
  }
  const std::uint32_t offered = leaf(guest_cpuid(host, CpuTopology{2}, 0), KVM_CPUID_FEATURES).eax;
  CHECK(((offered >> KVM_FEATURE_PV_SEND_IPI) & 1) == 0);
}

TEST_CASE("msrs: the boot MSRs a real machine's firmware leaves") {
  const auto msrs = boot_msrs();
  const auto value_of = [&](std::uint32_t index) -> std::optional<std::uint64_t> {
    for (const auto& m : msrs) {
      if (m.index == index) {
        return m.value;
      }
    }
    return std::nullopt;
  };
  CHECK(value_of(msr::kTsc) == 0u);
  CHECK(value_of(msr::kMiscEnable) == 1u);
  CHECK(value_of(msr::kPat) == 0x0007040600070406ull);
  CHECK(value_of(msr::kMtrrDefType) == 0x806u);
  CHECK_FALSE(value_of(0x1b).has_value());  // the APIC base is KVM's
  CHECK(msrs.front().index == msr::kTsc);
}

TEST_CASE("lapic: the boot CPU's LINT0 is ExtINT and LINT1 is NMI, unmasked") {
  std::array<std::uint8_t, lapic::kRegisterPageSize> page{};
  const std::span<std::uint8_t, lapic::kRegisterPageSize> view(page);
  lapic::write_register(view, lapic::kLvtLint0, 0x10000);  // masked, as after reset
  lapic::write_register(view, lapic::kLvtLint1, 0x10000);
  lapic::write_register(view, 0x320, 0x10000);              // the timer LVT is left alone
  lapic::program_boot_cpu_lints(view);
  CHECK(lapic::read_register(view, lapic::kLvtLint0) == 0x700);
  CHECK(lapic::read_register(view, lapic::kLvtLint1) == 0x400);
  CHECK(lapic::read_register(view, 0x320) == 0x10000);
}

TEST_CASE("gsi routing: ISA IRQs to the PICs and the IOAPIC, the timer on pin 2") {
  const auto routes = kvm::default_gsi_routes();
  const auto targets = [&](std::uint32_t gsi) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> found;
    for (const auto& route : routes) {
      CHECK(route.type == KVM_IRQ_ROUTING_IRQCHIP);
      if (route.gsi == gsi) {
        found.emplace_back(route.u.irqchip.irqchip, route.u.irqchip.pin);
      }
    }
    return found;
  };
  using Targets = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
  CHECK(targets(0) == Targets{{KVM_IRQCHIP_PIC_MASTER, 0}, {KVM_IRQCHIP_IOAPIC, 2}});
  CHECK(targets(2).empty());
  CHECK(targets(4) == Targets{{KVM_IRQCHIP_PIC_MASTER, 4}, {KVM_IRQCHIP_IOAPIC, 4}});
  CHECK(targets(8) == Targets{{KVM_IRQCHIP_PIC_SLAVE, 0}, {KVM_IRQCHIP_IOAPIC, 8}});
  CHECK(targets(9) == Targets{{KVM_IRQCHIP_PIC_SLAVE, 1}, {KVM_IRQCHIP_IOAPIC, 9}});
  CHECK(targets(15) == Targets{{KVM_IRQCHIP_PIC_SLAVE, 7}, {KVM_IRQCHIP_IOAPIC, 15}});
  CHECK(targets(16) == Targets{{KVM_IRQCHIP_IOAPIC, 16}});
  CHECK(targets(23) == Targets{{KVM_IRQCHIP_IOAPIC, 23}});
  CHECK(targets(24).empty());
  CHECK(routes.size() == 15 * 2 + 8);
}
