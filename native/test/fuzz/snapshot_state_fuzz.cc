// libFuzzer target for the snapshot state-file reader and the decoders of the
// sections in it: nothing in a state file may crash the reader, read out of
// bounds or allocate without bound.
//
// The first input byte picks a mode. Mode 0 parses the rest as a state file
// as is (magic, versions, framing, checksums). A random input almost never
// has valid CRCs, so mode 1 wraps the rest in a well-formed container first
// (each chunk becomes a section with a correct checksum), which lets the
// fuzzer reach the RAM, vCPU and VM-state decoders behind the checksums.
//
// Whatever the mode, the whole input is also decoded as each device's saved
// state (device_state_codec.h). A state that decodes must encode back to
// exactly the bytes it was read from: the encoding has one form per state,
// so anything else means a field the decoder skipped or invented.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "snapshot/core_sections.h"
#include "snapshot/device_state_codec.h"
#include "snapshot/kvm_state_codec.h"
#include "snapshot/ram_file.h"
#include "snapshot/snapshot_error.h"
#include "snapshot/state_file.h"

using namespace nestbox::snapshot;

namespace {

const std::uint32_t kTags[] = {kRamSectionTag, kVcpuSectionTag, kKvmVmSectionTag,
                               section_tag("DEVX")};

// Chunks of [tag selector, version, u16 length, payload...] become sections.
std::vector<std::uint8_t> wrap(const std::uint8_t* data, std::size_t size) {
  StateFileWriter writer;
  std::size_t at = 0;
  while (size - at >= 4) {
    const std::uint32_t tag = kTags[data[at] % 4];
    const std::uint32_t version = data[at + 1] % 3;
    std::size_t length = static_cast<std::size_t>(data[at + 2]) | static_cast<std::size_t>(data[at + 3]) << 8;
    at += 4;
    if (length > size - at) length = size - at;
    try {
      writer.add(tag, version, std::vector<std::uint8_t>(data + at, data + at + length));
    } catch (const std::logic_error&) {
      // a duplicate tag: the writer refuses it, as it should
    }
    at += length;
  }
  return writer.bytes();
}

void decode_all(const StateFile& file) {
  try {
    const RamLayout layout = decode_ram_section(file.reader(kRamSectionTag));
    if (layout.regions.empty()) __builtin_trap();
  } catch (const SnapshotError&) {
  }
  try {
    const std::vector<nestbox::kvm::VcpuState> vcpus = decode_vcpu_section(file.reader(kVcpuSectionTag));
    for (const auto& vcpu : vcpus) {
      // A decoded vCPU is well formed: exactly one of each alternative.
      if (vcpu.sregs.has_value() == vcpu.sregs2.has_value()) __builtin_trap();
      if (vcpu.xsave.empty() == !vcpu.fpu.has_value()) __builtin_trap();
    }
  } catch (const SnapshotError&) {
  }
  try {
    (void)decode_kvm_vm_section(file.reader(kKvmVmSectionTag));
  } catch (const SnapshotError&) {
  }
}

template <typename State>
void decode_device_state(std::span<const std::uint8_t> bytes) {
  ByteReader in(bytes, "fuzz device state");
  State state{};
  try {
    decode_state(in, state);
  } catch (const SnapshotError&) {
    return;
  }
  ByteWriter out;
  encode_state(out, state);
  const std::span<const std::uint8_t> consumed = bytes.first(in.offset());
  if (!std::equal(out.bytes().begin(), out.bytes().end(), consumed.begin(), consumed.end())) {
    __builtin_trap();
  }
}

void decode_all_device_states(std::span<const std::uint8_t> bytes) {
  namespace nb = nestbox;
  decode_device_state<nb::SerialPortState>(bytes);
  decode_device_state<nb::I8042State>(bytes);
  decode_device_state<nb::CmosRtcState>(bytes);
  decode_device_state<nb::AcpiPmState>(bytes);
  decode_device_state<nb::PostCodePortState>(bytes);
  decode_device_state<nb::pci::PciConfigPortsState>(bytes);
  decode_device_state<nb::pci::PciFunctionState>(bytes);
  decode_device_state<nb::pci::MsixState>(bytes);
  decode_device_state<nb::virtio::VirtQueueState>(bytes);
  decode_device_state<nb::virtio::VirtioPciQueueState>(bytes);
  decode_device_state<nb::virtio::VirtioPciState>(bytes);
  decode_device_state<nb::virtio::VirtioBlkState>(bytes);
  decode_device_state<nb::net::NetStats>(bytes);
  decode_device_state<nb::virtio::VirtioNetState>(bytes);
  decode_device_state<nb::virtio::VirtioInputState>(bytes);
  decode_device_state<nb::virtio::VirtioRngState>(bytes);
  decode_device_state<nb::net::NetBackendState>(bytes);
  decode_device_state<nb::display::dispi::Registers>(bytes);
  decode_device_state<nb::display::VgaCompatState>(bytes);
  decode_device_state<nb::display::EdidConfig>(bytes);
  decode_device_state<nb::display::BochsDisplayState>(bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  decode_all_device_states({data, size});
  if (size == 0) return 0;
  const bool wrapped = (data[0] & 1) != 0;
  std::vector<std::uint8_t> bytes =
      wrapped ? wrap(data + 1, size - 1) : std::vector<std::uint8_t>(data + 1, data + size);
  static const std::vector<SectionSpec> specs = core_section_specs();
  // Optional specs too, so a file lacking sections still reaches the decoders.
  static const std::vector<SectionSpec> lenient = [] {
    std::vector<SectionSpec> all = core_section_specs();
    for (SectionSpec& spec : all) spec.required = false;
    return all;
  }();
  try {
    const StateFile file = StateFile::parse(bytes, specs, "fuzz");
    decode_all(file);
  } catch (const SnapshotError&) {
  }
  try {
    const StateFile file = StateFile::parse(std::move(bytes), lenient, "fuzz");
    decode_all(file);
  } catch (const SnapshotError&) {
  }
  return 0;
}
