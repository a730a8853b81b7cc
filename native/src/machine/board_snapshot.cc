// Board::save_state / restore_state: what a snapshot holds of a board besides
// guest RAM — the KVM state (kvm/vcpu_state.h, kvm/vm_state.h) and one record
// per device, encoded with snapshot/device_state_codec.h.
//
// Records are named after the device and where it sits ("com1", "virtio
// 00:04.0"), and a restore requires exactly the records this board's
// hardware produces: a VM whose hardware changed since the snapshot (a disk
// added, the display turned off) is refused with a message naming the device,
// rather than half-restored.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "bus/pci/pci_config_ports.h"
#include "devices/acpi_pm/acpi_pm_block.h"
#include "devices/debug_port/post_code_port.h"
#include "devices/display/bochs_display.h"
#include "devices/i8042/i8042_controller.h"
#include "devices/rtc/cmos_rtc.h"
#include "devices/serial/serial_port.h"
#include "devices/virtio/blk/virtio_blk.h"
#include "devices/virtio/input/virtio_input.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/rng/virtio_rng.h"
#include "machine/board.h"
#include "machine/pci_platform.h"
#include "snapshot/byte_codec.h"
#include "snapshot/device_state_codec.h"
#include "snapshot/snapshot_error.h"

namespace nestbox {

namespace {

using snapshot::ByteReader;
using snapshot::ByteWriter;
using snapshot::SnapshotError;
using snapshot::SnapshotProblem;

template <typename State>
std::vector<std::uint8_t> encoded(const State& state) {
  ByteWriter out;
  snapshot::encode_state(out, state);
  return out.take();
}

template <typename State>
State decoded(const DeviceStateRecord& record) {
  ByteReader in(record.bytes, "device " + record.name);
  State state{};
  snapshot::decode_state(in, state);
  in.expect_end();
  return state;
}

std::string slot_record_name(std::string_view kind, std::uint8_t slot) {
  char text[8];
  std::snprintf(text, sizeof text, "%02x.0", slot);
  return std::string(kind) + " 00:" + text;
}

// A virtio function's record: the device type, the device's own state (for
// the types that have one), then the transport's.
std::vector<std::uint8_t> save_virtio(virtio::VirtioPciDevice& function) {
  ByteWriter out;
  virtio::VirtioDevice& device = function.device();
  out.u16(device.device_type());
  if (auto* blk = dynamic_cast<virtio::VirtioBlk*>(&device)) {
    snapshot::encode_state(out, blk->save());
  } else if (auto* net = dynamic_cast<virtio::VirtioNet*>(&device)) {
    snapshot::encode_state(out, net->save());
  } else if (auto* input = dynamic_cast<virtio::VirtioInput*>(&device)) {
    snapshot::encode_state(out, input->save());
  } else if (auto* rng = dynamic_cast<virtio::VirtioRng*>(&device)) {
    snapshot::encode_state(out, rng->save());
  }
  snapshot::encode_state(out, function.save());
  return out.take();
}

template <typename Device, typename State>
void restore_device_state(ByteReader& in, virtio::VirtioDevice& device) {
  State state{};
  snapshot::decode_state(in, state);
  static_cast<Device&>(device).restore(state);
}

void restore_virtio(const DeviceStateRecord& record, virtio::VirtioPciDevice& function) {
  ByteReader in(record.bytes, "device " + record.name);
  virtio::VirtioDevice& device = function.device();
  const std::uint16_t type = in.u16();
  if (type != device.device_type()) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        record.name + " was virtio device type " + std::to_string(type) +
                            " in the snapshot and is type " +
                            std::to_string(device.device_type()) + " now: the VM's hardware changed");
  }
  // The device's own state goes first: the transport's restore re-activates it.
  if (dynamic_cast<virtio::VirtioBlk*>(&device) != nullptr) {
    restore_device_state<virtio::VirtioBlk, virtio::VirtioBlkState>(in, device);
  } else if (dynamic_cast<virtio::VirtioNet*>(&device) != nullptr) {
    restore_device_state<virtio::VirtioNet, virtio::VirtioNetState>(in, device);
  } else if (dynamic_cast<virtio::VirtioInput*>(&device) != nullptr) {
    restore_device_state<virtio::VirtioInput, virtio::VirtioInputState>(in, device);
  } else if (dynamic_cast<virtio::VirtioRng*>(&device) != nullptr) {
    restore_device_state<virtio::VirtioRng, virtio::VirtioRngState>(in, device);
  }
  virtio::VirtioPciState transport;
  snapshot::decode_state(in, transport);
  in.expect_end();
  function.restore(transport);
}

}  // namespace

std::vector<DeviceStateRecord> Board::save_devices() const {
  std::vector<DeviceStateRecord> records;
  records.push_back({"com1", encoded(com1_->save())});
  records.push_back({"i8042", encoded(keyboard_->save())});
  records.push_back({"post-code", encoded(post_code_->save())});
  records.push_back({"acpi-pm", encoded(pm_->save())});
  records.push_back({"rtc", encoded(rtc_->save())});
  records.push_back({"pci-config-ports", encoded(pci_->config_ports().save())});
  if (display_) {
    records.push_back({slot_record_name("display", kDisplayPciSlot), encoded(display_->save())});
  }
  for (const auto& [slot, function] : pci_->virtio_functions()) {
    records.push_back({slot_record_name("virtio", slot), save_virtio(*function)});
  }
  return records;
}

BoardState Board::save_state() {
  // Every popped disk request completes into the used ring first, so the
  // queue positions saved below account for all of them.
  for (const auto& [slot, function] : pci_->virtio_functions()) {
    if (auto* blk = dynamic_cast<virtio::VirtioBlk*>(&function->device())) blk->drain();
  }
  const kvm::VcpuStateSupport support = kvm::probe_vcpu_state_support(system_, vm_);
  BoardState state;
  for (const auto& vcpu : vcpus_) {
    state.vcpus.push_back(kvm::save_vcpu_state(vcpu->vcpu(), support));
  }
  state.vm = kvm::save_vm_state(vm_);
  state.devices = save_devices();
  if (display_) {
    const std::span<const std::uint8_t> vram = display_->vram();
    state.vram.assign(vram.begin(), vram.end());
  }
  return state;
}

void Board::restore_devices(std::span<const DeviceStateRecord> records) {
  std::map<std::string, const DeviceStateRecord*, std::less<>> by_name;
  for (const DeviceStateRecord& record : records) {
    if (!by_name.emplace(record.name, &record).second) {
      throw SnapshotError(SnapshotProblem::Malformed,
                          "the snapshot holds two states for device " + record.name);
    }
  }
  const auto take = [&](const std::string& name) -> const DeviceStateRecord& {
    const auto found = by_name.find(name);
    if (found == by_name.end()) {
      throw SnapshotError(SnapshotProblem::Mismatch,
                          "the snapshot has no state for " + name +
                              ": the VM's hardware changed since it was taken");
    }
    const DeviceStateRecord& record = *found->second;
    by_name.erase(found);
    return record;
  };
  com1_->restore(decoded<SerialPortState>(take("com1")));
  keyboard_->restore(decoded<I8042State>(take("i8042")));
  post_code_->restore(decoded<PostCodePortState>(take("post-code")));
  pm_->restore(decoded<AcpiPmState>(take("acpi-pm")));
  rtc_->restore(decoded<CmosRtcState>(take("rtc")));
  pci_->config_ports().restore(decoded<pci::PciConfigPortsState>(take("pci-config-ports")));
  if (display_) {
    display_->restore(
        decoded<display::BochsDisplayState>(take(slot_record_name("display", kDisplayPciSlot))));
  }
  for (const auto& [slot, function] : pci_->virtio_functions()) {
    restore_virtio(take(slot_record_name("virtio", slot)), *function);
  }
  if (!by_name.empty()) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        "the snapshot has state for " + by_name.begin()->first +
                            ", which this VM does not have: its hardware changed since");
  }
}

void Board::restore_state(const BoardState& state) {
  if (boot_ != BoardBoot::Snapshot) {
    throw NestboxError(ErrorCode::InvalidState, "this board booted a kernel; it cannot restore");
  }
  if (state.vcpus.size() != vcpus_.size()) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        "the snapshot has " + std::to_string(state.vcpus.size()) +
                            " vCPUs and the VM has " + std::to_string(vcpus_.size()));
  }
  if (display_ ? state.vram.size() != display_->vram_size() : !state.vram.empty()) {
    throw SnapshotError(SnapshotProblem::Mismatch,
                        "the snapshot's video memory is " + std::to_string(state.vram.size() >> 20) +
                            " MiB and the VM's is " +
                            std::to_string(display_ ? display_->vram_size() >> 20 : 0) + " MiB");
  }
  // The order of PLATFORM-NOTES: every vCPU, then the VM's interrupt
  // controllers, PIT and clock, then our devices (which may drive interrupt
  // lines to their saved levels, into restored controllers).
  const kvm::VcpuStateSupport support = kvm::probe_vcpu_state_support(system_, vm_);
  for (std::size_t i = 0; i < vcpus_.size(); ++i) {
    const kvm::VcpuRestoreNotes notes = kvm::restore_vcpu_state(vcpus_[i]->vcpu(), state.vcpus[i], support);
    if (!notes.refused_msrs.empty()) {
      callbacks_.log("snapshot: vCPU " + std::to_string(i) + ": this host's KVM refused " +
                     std::to_string(notes.refused_msrs.size()) + " saved MSRs");
    }
    if (notes.tsc_rate_differs) {
      callbacks_.log("snapshot: the TSC runs at another rate on this host; guest time may drift");
    }
  }
  kvm::restore_vm_state(vm_, state.vm);
  if (display_) {
    std::memcpy(display_->vram().data(), state.vram.data(), state.vram.size());
  }
  restore_devices(state.devices);
}

}  // namespace nestbox
