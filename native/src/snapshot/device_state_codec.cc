#include "snapshot/device_state_codec.h"

#include <algorithm>
#include <bit>
#include <span>
#include <string>

#include "devices/display/vram.h"
#include "devices/virtio/virtio_abi.h"

namespace nestbox::snapshot {

// Build-time tripwires: adding, removing or resizing a field of a state
// struct changes its size and stops the build here, so the codec below is
// updated (and the device's section version bumped) in the same change. A
// field that fits into existing padding slips past; the round-trip tests,
// which give every field a distinct value, are the second net. Sizes are for
// x86-64, the only host we run on; a std::vector is 24 bytes in libstdc++ and
// libc++ alike, but std::string and std::vector<bool> differ between them,
// so the structs holding those are checked with libstdc++ only.
static_assert(sizeof(SerialPortState) == 40, "SerialPortState changed: update its codec");
static_assert(sizeof(I8042State) == 120, "I8042State changed: update its codec");
static_assert(sizeof(CmosRtcState) == 168, "CmosRtcState changed: update its codec");
static_assert(sizeof(AcpiPmState) == 32, "AcpiPmState changed: update its codec");
static_assert(sizeof(PostCodePortState) == 4, "PostCodePortState changed: update its codec");
static_assert(sizeof(pci::PciConfigPortsState) == 4, "PciConfigPortsState changed: update its codec");
static_assert(sizeof(pci::PciFunctionState) == 4097, "PciFunctionState changed: update its codec");
static_assert(sizeof(virtio::VirtQueueState) == 48, "VirtQueueState changed: update its codec");
static_assert(sizeof(virtio::VirtioPciQueueState) == 56, "VirtioPciQueueState changed: update its codec");
static_assert(sizeof(virtio::VirtioBlkState) == 72, "VirtioBlkState changed: update its codec");
static_assert(sizeof(net::NetStats) == 56, "NetStats changed: update its codec");
static_assert(sizeof(virtio::VirtioNetState) == 64, "VirtioNetState changed: update its codec");
static_assert(sizeof(virtio::VirtioInputState) == 12, "VirtioInputState changed: update its codec");
static_assert(sizeof(virtio::VirtioRngState) == 8, "VirtioRngState changed: update its codec");
static_assert(sizeof(display::dispi::Registers) == 22, "dispi::Registers changed: update its codec");
static_assert(sizeof(display::VgaCompatState) == 24, "VgaCompatState changed: update its codec");
static_assert(sizeof(display::EdidConfig) == 8, "EdidConfig changed: update its codec");
static_assert(sizeof(display::BochsDisplayState) == 4176, "BochsDisplayState changed: update its codec");
#if defined(__GLIBCXX__)
static_assert(sizeof(pci::MsixState) == 72, "MsixState changed: update its codec");
static_assert(sizeof(virtio::VirtioPciState) == 4232, "VirtioPciState changed: update its codec");
static_assert(sizeof(net::NetBackendState) == 64, "NetBackendState changed: update its codec");
#endif

namespace {

// Encoded sizes of fixed-size records, for count() to refuse counts the
// remaining bytes cannot hold before anything is allocated.
constexpr std::size_t kEncodedVirtQueueStateSize = 2 + 1 + 3 * 8 + 3 * 2 + 3;
constexpr std::size_t kEncodedVirtioPciQueueStateSize = kEncodedVirtQueueStateSize + 2;
constexpr std::size_t kEncodedMsixVectorSize = pci::kMsixEntrySize + 1;  // entry + pending flag

// A fixed-size byte array as u32 length + bytes: the length lets a reader
// refuse a file written when the array had another size.
void write_fixed_bytes(ByteWriter& out, std::span<const std::uint8_t> bytes) {
  out.u32(static_cast<std::uint32_t>(bytes.size()));
  out.raw(bytes);
}

void read_fixed_bytes(ByteReader& in, std::span<std::uint8_t> into, std::string_view what) {
  const std::uint32_t length = in.u32();
  if (length != into.size()) {
    in.fail(std::string(what) + " is " + std::to_string(length) + " bytes, expected " +
            std::to_string(into.size()));
  }
  const std::span<const std::uint8_t> bytes = in.raw(length);
  std::copy(bytes.begin(), bytes.end(), into.begin());
}

// A bounded byte queue as u32 count + bytes.
void write_byte_list(ByteWriter& out, const std::vector<std::uint8_t>& bytes) {
  out.u32(static_cast<std::uint32_t>(bytes.size()));
  out.raw(bytes);
}

std::vector<std::uint8_t> read_byte_list(ByteReader& in, std::uint32_t max_count) {
  const std::uint32_t count = in.count(max_count, 1);
  const std::span<const std::uint8_t> bytes = in.raw(count);
  return {bytes.begin(), bytes.end()};
}

std::int64_t read_i64(ByteReader& in) { return static_cast<std::int64_t>(in.u64()); }

// A vector the transport stores is one the function has, or NO_VECTOR
// (VirtioPciDevice::checked_vector).
void check_msix_vector(ByteReader& in, std::uint16_t vector, std::size_t vector_count,
                       std::string_view what) {
  if (vector != virtio::kNoVector && vector >= vector_count) {
    in.fail(std::string(what) + " uses MSI-X vector " + std::to_string(vector) + " of " +
            std::to_string(vector_count));
  }
}

}  // namespace

// --- Legacy PC devices ---

void encode_state(ByteWriter& out, const SerialPortState& state) {
  out.u8(state.interrupt_enable);
  out.u8(state.line_control);
  out.u8(state.modem_control);
  out.u8(state.scratch);
  out.u8(state.divisor_low);
  out.u8(state.divisor_high);
  out.boolean(state.fifos_enabled);
  write_byte_list(out, state.receive_buffer);
  out.u8(state.fifo_trigger);
  out.u8(state.line_status_errors);
  out.u8(state.modem_status_deltas);
  out.boolean(state.transmit_empty_pending);
}

void decode_state(ByteReader& in, SerialPortState& state) {
  state.interrupt_enable = in.u8();
  state.line_control = in.u8();
  state.modem_control = in.u8();
  state.scratch = in.u8();
  state.divisor_low = in.u8();
  state.divisor_high = in.u8();
  state.fifos_enabled = in.boolean();
  state.receive_buffer = read_byte_list(in, kMaxSerialReceiveBytes);
  state.fifo_trigger = in.u8();
  state.line_status_errors = in.u8();
  state.modem_status_deltas = in.u8();
  state.transmit_empty_pending = in.boolean();
}

void encode_state(ByteWriter& out, const I8042State& state) {
  write_fixed_bytes(out, state.ram);
  out.u8(state.output_port);
  out.u8(state.pending_command);
  out.boolean(state.last_write_was_command);
  out.u8(state.last_output);
  write_byte_list(out, state.controller_output);
  write_byte_list(out, state.keyboard_output);
  write_byte_list(out, state.scancodes);
  out.boolean(state.keyboard_scanning);
  out.u8(state.keyboard_pending_command);
  out.u8(state.keyboard_leds);
  out.u8(state.keyboard_scancode_set);
  out.u8(state.keyboard_typematic);
}

void decode_state(ByteReader& in, I8042State& state) {
  read_fixed_bytes(in, state.ram, "the i8042 RAM");
  state.output_port = in.u8();
  state.pending_command = in.u8();
  state.last_write_was_command = in.boolean();
  state.last_output = in.u8();
  state.controller_output = read_byte_list(in, kMaxI8042ReplyBytes);
  state.keyboard_output = read_byte_list(in, kMaxI8042ReplyBytes);
  state.scancodes = read_byte_list(in, kMaxI8042ScancodeBytes);
  state.keyboard_scanning = in.boolean();
  state.keyboard_pending_command = in.u8();
  state.keyboard_leds = in.u8();
  state.keyboard_scancode_set = in.u8();
  // PS/2 keyboards have sets 1-3; restore() maps 3 (no longer offered) to 2.
  if (state.keyboard_scancode_set < 1 || state.keyboard_scancode_set > 3) {
    in.fail("keyboard scancode set " + std::to_string(state.keyboard_scancode_set) +
            " does not exist");
  }
  state.keyboard_typematic = in.u8();
}

void encode_state(ByteWriter& out, const CmosRtcState& state) {
  write_fixed_bytes(out, state.cmos);
  out.u8(state.index);
  out.boolean(state.nmi_disabled);
  out.u64(static_cast<std::uint64_t>(state.offset_seconds));
  out.u8(state.flags);
  out.u64(static_cast<std::uint64_t>(state.last_update_second));
  out.u64(static_cast<std::uint64_t>(state.periodic_remaining_ns));
}

void decode_state(ByteReader& in, CmosRtcState& state) {
  read_fixed_bytes(in, state.cmos, "the CMOS RAM");
  state.index = in.u8();
  state.nmi_disabled = in.boolean();
  state.offset_seconds = read_i64(in);
  state.flags = in.u8();
  state.last_update_second = read_i64(in);
  state.periodic_remaining_ns = read_i64(in);
  if (state.periodic_remaining_ns < -1) {  // -1 is "not running"
    in.fail("the periodic interrupt is due in " + std::to_string(state.periodic_remaining_ns) +
            " ns");
  }
}

void encode_state(ByteWriter& out, const AcpiPmState& state) {
  out.u16(state.pm1_status);
  out.u16(state.pm1_enable);
  out.u16(state.pm1_control);
  out.u16(state.gpe0_status);
  out.u16(state.gpe0_enable);
  out.u64(state.timer_ticks);
  out.u64(state.timer_status_ticks);
}

void decode_state(ByteReader& in, AcpiPmState& state) {
  state.pm1_status = in.u16();
  state.pm1_enable = in.u16();
  state.pm1_control = in.u16();
  state.gpe0_status = in.u16();
  state.gpe0_enable = in.u16();
  state.timer_ticks = in.u64();
  state.timer_status_ticks = in.u64();
}

void encode_state(ByteWriter& out, const PostCodePortState& state) { out.u32(state.last_value); }

void decode_state(ByteReader& in, PostCodePortState& state) { state.last_value = in.u32(); }

// --- PCI ---

void encode_state(ByteWriter& out, const pci::PciConfigPortsState& state) {
  out.u32(state.config_address);
}

void decode_state(ByteReader& in, pci::PciConfigPortsState& state) {
  state.config_address = in.u32();
}

void encode_state(ByteWriter& out, const pci::PciFunctionState& state) {
  write_fixed_bytes(out, state.config);
  out.boolean(state.intx_level);
}

void decode_state(ByteReader& in, pci::PciFunctionState& state) {
  read_fixed_bytes(in, state.config, "the PCI configuration space");
  state.intx_level = in.boolean();
}

// Both sizes are written as they are; the reader insists on 16 table bytes
// per pending bit, which is what MsixVectors keeps.
void encode_state(ByteWriter& out, const pci::MsixState& state) {
  out.u32(static_cast<std::uint32_t>(state.pending.size()));
  out.u32(static_cast<std::uint32_t>(state.table.size()));
  out.raw(state.table);
  for (const bool pending : state.pending) {
    out.boolean(pending);
  }
  out.boolean(state.enabled);
  out.boolean(state.function_masked);
}

void decode_state(ByteReader& in, pci::MsixState& state) {
  const std::uint32_t vectors = in.count(kMaxMsixVectors, kEncodedMsixVectorSize);
  if (vectors == 0) {
    in.fail("an MSI-X capability with no vectors");
  }
  const std::uint32_t table_length = in.u32();
  if (table_length != std::uint64_t{vectors} * pci::kMsixEntrySize) {
    in.fail("an MSI-X table of " + std::to_string(table_length) + " bytes for " +
            std::to_string(vectors) + " vectors");
  }
  const std::span<const std::uint8_t> table = in.raw(table_length);
  state.table.assign(table.begin(), table.end());
  state.pending.assign(vectors, false);
  for (std::uint32_t i = 0; i < vectors; ++i) {
    state.pending[i] = in.boolean();
  }
  state.enabled = in.boolean();
  state.function_masked = in.boolean();
}

// --- virtio ---

void encode_state(ByteWriter& out, const virtio::VirtQueueState& state) {
  out.u16(state.size);
  out.boolean(state.ready);
  out.u64(state.descriptor_table);
  out.u64(state.avail_ring);
  out.u64(state.used_ring);
  out.u16(state.next_avail);
  out.u16(state.next_used);
  out.u16(state.signalled_used);
  out.boolean(state.signalled_used_valid);
  out.boolean(state.event_index);
  out.boolean(state.indirect);
}

void decode_state(ByteReader& in, virtio::VirtQueueState& state) {
  state.size = in.u16();
  state.ready = in.boolean();
  // Only an enabled queue's size was checked (a driver may write anything
  // before enabling); VirtQueue::restore re-checks its rings against RAM.
  if (state.ready && (state.size == 0 || state.size > kMaxVirtQueueSize ||
                      !std::has_single_bit(state.size))) {
    in.fail("an enabled virtqueue of size " + std::to_string(state.size));
  }
  state.descriptor_table = in.u64();
  state.avail_ring = in.u64();
  state.used_ring = in.u64();
  state.next_avail = in.u16();
  state.next_used = in.u16();
  state.signalled_used = in.u16();
  state.signalled_used_valid = in.boolean();
  state.event_index = in.boolean();
  state.indirect = in.boolean();
}

void encode_state(ByteWriter& out, const virtio::VirtioPciQueueState& state) {
  encode_state(out, state.queue);
  out.u16(state.msix_vector);
}

void decode_state(ByteReader& in, virtio::VirtioPciQueueState& state) {
  decode_state(in, state.queue);
  state.msix_vector = in.u16();
}

void encode_state(ByteWriter& out, const virtio::VirtioPciState& state) {
  encode_state(out, state.function);
  encode_state(out, state.msix);
  out.u8(state.status);
  out.u8(state.config_generation);
  out.u8(state.isr);
  out.u32(state.device_feature_select);
  out.u32(state.driver_feature_select);
  out.u64(state.driver_features);
  out.u16(state.queue_select);
  out.u16(state.config_msix_vector);
  out.u32(static_cast<std::uint32_t>(state.queues.size()));
  for (const virtio::VirtioPciQueueState& queue : state.queues) {
    encode_state(out, queue);
  }
}

void decode_state(ByteReader& in, virtio::VirtioPciState& state) {
  decode_state(in, state.function);
  decode_state(in, state.msix);
  const std::size_t vectors = state.msix.pending.size();
  state.status = in.u8();
  state.config_generation = in.u8();
  state.isr = in.u8();
  state.device_feature_select = in.u32();
  state.driver_feature_select = in.u32();
  state.driver_features = in.u64();
  state.queue_select = in.u16();
  state.config_msix_vector = in.u16();
  check_msix_vector(in, state.config_msix_vector, vectors, "the configuration interrupt");
  const std::uint32_t count = in.count(kMaxVirtioQueues, kEncodedVirtioPciQueueStateSize);
  if (count == 0) {
    in.fail("a virtio device with no queues");
  }
  state.queues.clear();
  state.queues.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    virtio::VirtioPciQueueState queue;
    decode_state(in, queue);
    check_msix_vector(in, queue.msix_vector, vectors, "queue " + std::to_string(i));
    state.queues.push_back(queue);
  }
}

void encode_state(ByteWriter& out, const virtio::VirtioBlkState& state) {
  out.u64(state.capacity_sectors);
  out.boolean(state.read_only);
  out.u64(state.read_requests);
  out.u64(state.write_requests);
  out.u64(state.flush_requests);
  out.u64(state.discard_requests);
  out.u64(state.bytes_read);
  out.u64(state.bytes_written);
  out.u64(state.failed_requests);
}

void decode_state(ByteReader& in, virtio::VirtioBlkState& state) {
  state.capacity_sectors = in.u64();
  state.read_only = in.boolean();
  state.read_requests = in.u64();
  state.write_requests = in.u64();
  state.flush_requests = in.u64();
  state.discard_requests = in.u64();
  state.bytes_read = in.u64();
  state.bytes_written = in.u64();
  state.failed_requests = in.u64();
}

void encode_state(ByteWriter& out, const net::NetStats& state) {
  out.u64(state.tx_frames);
  out.u64(state.tx_bytes);
  out.u64(state.tx_dropped);
  out.u64(state.rx_frames);
  out.u64(state.rx_bytes);
  out.u64(state.rx_dropped);
  out.u64(state.guest_errors);
}

void decode_state(ByteReader& in, net::NetStats& state) {
  state.tx_frames = in.u64();
  state.tx_bytes = in.u64();
  state.tx_dropped = in.u64();
  state.rx_frames = in.u64();
  state.rx_bytes = in.u64();
  state.rx_dropped = in.u64();
  state.guest_errors = in.u64();
}

void encode_state(ByteWriter& out, const virtio::VirtioNetState& state) {
  out.boolean(state.link_up);
  encode_state(out, state.stats);
}

void decode_state(ByteReader& in, virtio::VirtioNetState& state) {
  state.link_up = in.boolean();
  decode_state(in, state.stats);
}

void encode_state(ByteWriter& out, const virtio::VirtioInputState& state) {
  out.u8(state.select);
  out.u8(state.subsel);
  out.u8(state.leds);
  out.u32(state.display_width);
  out.u32(state.display_height);
}

void decode_state(ByteReader& in, virtio::VirtioInputState& state) {
  state.select = in.u8();
  state.subsel = in.u8();
  state.leds = in.u8();
  state.display_width = in.u32();
  state.display_height = in.u32();
}

void encode_state(ByteWriter& out, const virtio::VirtioRngState& state) {
  out.u64(state.bytes_delivered);
}

void decode_state(ByteReader& in, virtio::VirtioRngState& state) {
  state.bytes_delivered = in.u64();
}

// The backend judges its own data (SlirpBackend::restore falls back to a
// clean start); here only the framing is checked.
void encode_state(ByteWriter& out, const net::NetBackendState& state) {
  out.string(state.kind);
  out.u32(state.version);
  out.blob(state.data);
}

void decode_state(ByteReader& in, net::NetBackendState& state) {
  state.kind = in.string(kMaxNetBackendKindLength);
  state.version = in.u32();
  state.data = in.blob(kMaxNetBackendStateBytes);
}

// --- Display ---

void encode_state(ByteWriter& out, const display::dispi::Registers& state) {
  out.u32(static_cast<std::uint32_t>(state.size()));
  for (const std::uint16_t value : state) {
    out.u16(value);
  }
}

void decode_state(ByteReader& in, display::dispi::Registers& state) {
  const std::uint32_t count = in.u32();
  if (count != state.size()) {
    in.fail(std::to_string(count) + " DISPI registers, expected " + std::to_string(state.size()));
  }
  for (std::uint16_t& value : state) {
    value = in.u16();
  }
}

void encode_state(ByteWriter& out, const display::VgaCompatState& state) {
  out.u8(state.misc_output);
  out.u8(state.attribute_index);
  out.boolean(state.attribute_flip_flop);
  write_fixed_bytes(out, state.attribute);
}

void decode_state(ByteReader& in, display::VgaCompatState& state) {
  state.misc_output = in.u8();
  state.attribute_index = in.u8();
  state.attribute_flip_flop = in.boolean();
  read_fixed_bytes(in, state.attribute, "the VGA attribute registers");
}

void encode_state(ByteWriter& out, const display::EdidConfig& state) {
  out.u32(state.preferred_width);
  out.u32(state.preferred_height);
}

void decode_state(ByteReader& in, display::EdidConfig& state) {
  state.preferred_width = in.u32();
  state.preferred_height = in.u32();
}

void encode_state(ByteWriter& out, const display::BochsDisplayState& state) {
  encode_state(out, state.function);
  out.u64(state.vram_size);
  encode_state(out, state.dispi);
  out.boolean(state.big_endian);
  out.u16(state.port_index);
  encode_state(out, state.vga);
  encode_state(out, state.edid);
}

void decode_state(ByteReader& in, display::BochsDisplayState& state) {
  decode_state(in, state.function);
  state.vram_size = in.u64();
  // What any display can have (Vram's rule); restore() compares with its own.
  if (state.vram_size < display::kMinVramSize || state.vram_size > display::kMaxVramSize ||
      !std::has_single_bit(state.vram_size)) {
    in.fail("video memory of " + std::to_string(state.vram_size) + " bytes");
  }
  decode_state(in, state.dispi);
  state.big_endian = in.boolean();
  state.port_index = in.u16();
  decode_state(in, state.vga);
  decode_state(in, state.edid);
}

}  // namespace nestbox::snapshot
