// Encoding of every device's saved state (the plain struct its save()
// returns) for the snapshot state file, where each device gets a section.
//
// Every field is written explicitly, little-endian, rather than memcpy'ing
// the structs: they hold padding, bools, vectors and std::arrays whose layout
// is the compiler's business, so explicit fields give the same bytes from any
// compiler or build, and a change to a state struct has to be reviewed here
// (device_state_codec.cc has a sizeof guard per struct that breaks the build
// until it is).
//
// Versioning: a device's section is written with kDeviceStateEncodingVersion
// as its section version. Whenever a device's encoding below changes, bump
// that device's section version (today they share this one; give a device a
// constant of its own when they need to diverge) and keep decoding the old
// version for as long as old snapshots must load.
//
// Decoding treats the bytes as hostile, like ByteReader: booleans must be 0
// or 1, element counts are bounded by the device's own limits (the k* values
// below) before anything is allocated, fixed-size arrays must have exactly
// their size, values with a known range are checked. Anything else throws
// SnapshotError (Malformed). What only the device can judge (a VRAM size that
// matches, queue addresses inside guest RAM) its restore() checks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bus/pci/msix.h"
#include "bus/pci/pci_config_ports.h"
#include "bus/pci/pci_function.h"
#include "devices/acpi_pm/acpi_pm_block.h"
#include "devices/debug_port/post_code_port.h"
#include "devices/display/bochs_display.h"
#include "devices/display/dispi.h"
#include "devices/display/edid.h"
#include "devices/i8042/i8042_controller.h"
#include "devices/rtc/cmos_rtc.h"
#include "devices/serial/serial_port.h"
#include "devices/virtio/blk/virtio_blk.h"
#include "devices/virtio/input/virtio_input.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "devices/virtio/queue/virt_queue.h"
#include "devices/virtio/queue/virtq_abi.h"
#include "devices/virtio/rng/virtio_rng.h"
#include "net/net_backend.h"
#include "snapshot/byte_codec.h"
#include "snapshot/snapshot_error.h"
#include "snapshot/state_file.h"

namespace nestbox::snapshot {

inline constexpr std::uint32_t kDeviceStateEncodingVersion = 1;

// Limits the decoders enforce, taken from the devices themselves.
inline constexpr std::uint32_t kMaxSerialReceiveBytes = SerialPort::kReceiveCapacity;
inline constexpr std::uint32_t kMaxI8042ReplyBytes = I8042Controller::kReplyQueueCapacity;
inline constexpr std::uint32_t kMaxI8042ScancodeBytes = I8042Controller::kKeyboardQueueCapacity;
inline constexpr std::uint32_t kMaxMsixVectors = pci::kMsixMaxVectors;
inline constexpr std::uint32_t kMaxVirtioQueues = virtio::VirtioPciDevice::kMaxQueues;
inline constexpr std::uint32_t kMaxVirtQueueSize = virtio::kMaxQueueSize;  // an enabled queue's size
// A network backend's opaque state (libslirp: its sockets and their buffers).
inline constexpr std::uint32_t kMaxNetBackendKindLength = 64;
inline constexpr std::uint64_t kMaxNetBackendStateBytes = 64ull << 20;

// One pair per state type. decode_state overwrites every field of `state`.
void encode_state(ByteWriter& out, const SerialPortState& state);
void decode_state(ByteReader& in, SerialPortState& state);
void encode_state(ByteWriter& out, const I8042State& state);
void decode_state(ByteReader& in, I8042State& state);
void encode_state(ByteWriter& out, const CmosRtcState& state);
void decode_state(ByteReader& in, CmosRtcState& state);
void encode_state(ByteWriter& out, const AcpiPmState& state);
void decode_state(ByteReader& in, AcpiPmState& state);
void encode_state(ByteWriter& out, const PostCodePortState& state);
void decode_state(ByteReader& in, PostCodePortState& state);

void encode_state(ByteWriter& out, const pci::PciConfigPortsState& state);
void decode_state(ByteReader& in, pci::PciConfigPortsState& state);
void encode_state(ByteWriter& out, const pci::PciFunctionState& state);
void decode_state(ByteReader& in, pci::PciFunctionState& state);
void encode_state(ByteWriter& out, const pci::MsixState& state);
void decode_state(ByteReader& in, pci::MsixState& state);

void encode_state(ByteWriter& out, const virtio::VirtQueueState& state);
void decode_state(ByteReader& in, virtio::VirtQueueState& state);
void encode_state(ByteWriter& out, const virtio::VirtioPciQueueState& state);
void decode_state(ByteReader& in, virtio::VirtioPciQueueState& state);
void encode_state(ByteWriter& out, const virtio::VirtioPciState& state);
void decode_state(ByteReader& in, virtio::VirtioPciState& state);
void encode_state(ByteWriter& out, const virtio::VirtioBlkState& state);
void decode_state(ByteReader& in, virtio::VirtioBlkState& state);
void encode_state(ByteWriter& out, const net::NetStats& state);
void decode_state(ByteReader& in, net::NetStats& state);
void encode_state(ByteWriter& out, const virtio::VirtioNetState& state);
void decode_state(ByteReader& in, virtio::VirtioNetState& state);
void encode_state(ByteWriter& out, const virtio::VirtioInputState& state);
void decode_state(ByteReader& in, virtio::VirtioInputState& state);
void encode_state(ByteWriter& out, const virtio::VirtioRngState& state);
void decode_state(ByteReader& in, virtio::VirtioRngState& state);
// The backend behind virtio-net (what NetBackend::save() returns).
void encode_state(ByteWriter& out, const net::NetBackendState& state);
void decode_state(ByteReader& in, net::NetBackendState& state);

void encode_state(ByteWriter& out, const display::dispi::Registers& state);
void decode_state(ByteReader& in, display::dispi::Registers& state);
void encode_state(ByteWriter& out, const display::VgaCompatState& state);
void decode_state(ByteReader& in, display::VgaCompatState& state);
void encode_state(ByteWriter& out, const display::EdidConfig& state);
void decode_state(ByteReader& in, display::EdidConfig& state);
void encode_state(ByteWriter& out, const display::BochsDisplayState& state);
void decode_state(ByteReader& in, display::BochsDisplayState& state);

// The machine layer's device section: its spec for StateFile::parse, its
// payload, and the payload read back.
constexpr SectionSpec device_section_spec(std::uint32_t tag, std::string_view description,
                                          bool required = true) {
  return {tag, description, required, kDeviceStateEncodingVersion, kDeviceStateEncodingVersion};
}

template <typename State>
[[nodiscard]] std::vector<std::uint8_t> encode_device_record(const State& state) {
  ByteWriter out;
  encode_state(out, state);
  return out.take();
}

// `section_version` is StateFile::version(tag). The whole payload must be
// the one state (trailing bytes are refused).
template <typename State>
[[nodiscard]] State decode_device_record(ByteReader in, std::uint32_t section_version) {
  if (section_version != kDeviceStateEncodingVersion) {
    throw SnapshotError(SnapshotProblem::UnsupportedSection,
                        in.context() + ": device state version " + std::to_string(section_version) +
                            ", this Nestbox reads version " +
                            std::to_string(kDeviceStateEncodingVersion));
  }
  State state{};
  decode_state(in, state);
  in.expect_end();
  return state;
}

}  // namespace nestbox::snapshot
