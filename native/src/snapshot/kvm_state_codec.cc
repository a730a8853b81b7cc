#include "snapshot/kvm_state_codec.h"

#include <string>

#include "kvm/kvm_state_ioctls.h"

namespace nestbox::snapshot {

namespace {

// Which variant a vCPU state holds; stored as a byte.
constexpr std::uint8_t kSregsLegacy = 1;
constexpr std::uint8_t kSregs2 = 2;
constexpr std::uint8_t kFpuLegacy = 1;
constexpr std::uint8_t kFpuXsave = 2;

constexpr std::size_t kEncodedMsrSize = 12;  // u32 index + u64 data

template <typename T>
void optional_pod(ByteWriter& out, const std::optional<T>& value) {
  out.boolean(value.has_value());
  if (value) out.pod(*value);
}

template <typename T>
std::optional<T> read_optional_pod(ByteReader& in, std::string_view what) {
  if (!in.boolean()) return std::nullopt;
  return in.pod<T>(what);
}

}  // namespace

void encode_vcpu_state(ByteWriter& out, const kvm::VcpuState& state) {
  out.u32(static_cast<std::uint32_t>(state.cpuid.size()));
  for (const kvm_cpuid_entry2& entry : state.cpuid) {
    out.pod(entry);
  }
  out.u32(state.mp_state);
  out.pod(state.regs);
  if (state.sregs2) {
    out.u8(kSregs2);
    out.pod(*state.sregs2);
  } else {
    out.u8(kSregsLegacy);
    out.pod(state.sregs.value_or(kvm_sregs{}));
  }
  if (!state.xsave.empty()) {
    out.u8(kFpuXsave);
    out.blob(state.xsave);
  } else {
    out.u8(kFpuLegacy);
    out.pod(state.fpu.value_or(kvm_fpu{}));
  }
  optional_pod(out, state.xcrs);
  optional_pod(out, state.debugregs);
  out.pod(state.lapic);
  out.u32(static_cast<std::uint32_t>(state.msrs.size()));
  for (const kvm_msr_entry& msr : state.msrs) {
    out.u32(msr.index);
    out.u64(msr.data);
  }
  optional_pod(out, state.events);
  out.u32(state.tsc_khz);
}

kvm::VcpuState decode_vcpu_state(ByteReader& in) {
  kvm::VcpuState state;
  const std::uint32_t cpuid_count = in.count(kMaxSnapshotCpuidEntries, 4 + sizeof(kvm_cpuid_entry2));
  state.cpuid.reserve(cpuid_count);
  for (std::uint32_t i = 0; i < cpuid_count; ++i) {
    state.cpuid.push_back(in.pod<kvm_cpuid_entry2>("kvm_cpuid_entry2"));
  }
  state.mp_state = in.u32();
  // KVM validates the value on restore; this only refuses plain garbage.
  if (state.mp_state > 255) {
    in.fail("unknown MP state " + std::to_string(state.mp_state));
  }
  state.regs = in.pod<kvm_regs>("kvm_regs");
  switch (in.u8()) {
    case kSregs2: state.sregs2 = in.pod<kvm_sregs2>("kvm_sregs2"); break;
    case kSregsLegacy: state.sregs = in.pod<kvm_sregs>("kvm_sregs"); break;
    default: in.fail("unknown segment-register format");
  }
  switch (in.u8()) {
    case kFpuXsave:
      state.xsave = in.blob(kMaxXsaveSize);
      if (state.xsave.size() < kvm::kLegacyXsaveSize) {
        in.fail("an XSAVE area of " + std::to_string(state.xsave.size()) +
                " bytes is smaller than 4096");
      }
      break;
    case kFpuLegacy: state.fpu = in.pod<kvm_fpu>("kvm_fpu"); break;
    default: in.fail("unknown FPU state format");
  }
  state.xcrs = read_optional_pod<kvm_xcrs>(in, "kvm_xcrs");
  if (state.xcrs && state.xcrs->nr_xcrs > KVM_MAX_XCRS) {
    in.fail("kvm_xcrs claims " + std::to_string(state.xcrs->nr_xcrs) + " registers");
  }
  state.debugregs = read_optional_pod<kvm_debugregs>(in, "kvm_debugregs");
  state.lapic = in.pod<kvm_lapic_state>("kvm_lapic_state");
  const std::uint32_t msr_count = in.count(kMaxSnapshotMsrs, kEncodedMsrSize);
  state.msrs.resize(msr_count);
  for (kvm_msr_entry& msr : state.msrs) {
    msr = kvm_msr_entry{};
    msr.index = in.u32();
    msr.data = in.u64();
  }
  state.events = read_optional_pod<kvm_vcpu_events>(in, "kvm_vcpu_events");
  state.tsc_khz = in.u32();
  return state;
}

std::vector<std::uint8_t> encode_vcpu_section(std::span<const kvm::VcpuState> vcpus) {
  ByteWriter out;
  out.u32(static_cast<std::uint32_t>(vcpus.size()));
  for (const kvm::VcpuState& state : vcpus) {
    encode_vcpu_state(out, state);
  }
  return out.take();
}

std::vector<kvm::VcpuState> decode_vcpu_section(ByteReader in) {
  // A vCPU's encoding is well over 1 KiB (the LAPIC alone): 1024 is a safe floor.
  const std::uint32_t count = in.count(kMaxSnapshotVcpus, 1024);
  if (count == 0) {
    in.fail("no vCPUs");
  }
  std::vector<kvm::VcpuState> vcpus;
  vcpus.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    vcpus.push_back(decode_vcpu_state(in));
  }
  in.expect_end();
  return vcpus;
}

std::vector<std::uint8_t> encode_kvm_vm_section(const kvm::VmState& state) {
  ByteWriter out;
  out.pod(state.pic_master);
  out.pod(state.pic_slave);
  out.pod(state.ioapic);
  out.pod(state.pit);
  out.pod(state.clock);
  return out.take();
}

kvm::VmState decode_kvm_vm_section(ByteReader in) {
  kvm::VmState state;
  state.pic_master = in.pod<kvm_irqchip>("PIC master");
  state.pic_slave = in.pod<kvm_irqchip>("PIC slave");
  state.ioapic = in.pod<kvm_irqchip>("IOAPIC");
  state.pit = in.pod<kvm_pit_state2>("kvm_pit_state2");
  state.clock = in.pod<kvm_clock_data>("kvm_clock_data");
  if (state.pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
      state.pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
      state.ioapic.chip_id != KVM_IRQCHIP_IOAPIC) {
    in.fail("the interrupt controllers are out of order");
  }
  in.expect_end();
  return state;
}

}  // namespace nestbox::snapshot
