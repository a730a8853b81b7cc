// The encoding of every device's saved state (snapshot/device_state_codec.h):
// each state round-trips with every field intact; truncated, corrupted and
// oversized input is refused with a SnapshotError without reading out of
// bounds or allocating; and real devices come back from a decoded state
// saving what they saved before.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "block/disk_image.h"
#include "bus/pci/pci_root_complex.h"
#include "devices/virtio/virtio_abi.h"
#include "snapshot/device_state_codec.h"
#include "snapshot/state_file.h"
#include "snapshot_test_support.h"
#include "support/fake_guest_memory.h"
#include "support/fake_interrupt_line.h"
#include "support/recording_msi_sink.h"
#include "support/virtio_pci_driver.h"
#include "support/virtqueue_builder.h"
#include "test_helpers.h"

using nestbox::snapshot::ByteReader;
using nestbox::snapshot::ByteWriter;
using nestbox::snapshot::SnapshotError;
using nestbox::snapshot::SnapshotProblem;
using nestbox::test::contains;
using nestbox::test::expect_snapshot_error;
namespace nb = nestbox;
namespace snap = nestbox::snapshot;
namespace pci = nestbox::pci;
namespace virtio = nestbox::virtio;
namespace display = nestbox::display;
namespace dispi = nestbox::display::dispi;
namespace net = nestbox::net;

namespace {

using Bytes = std::vector<std::uint8_t>;

template <typename T>
Bytes encode(const T& state) {
  ByteWriter out;
  snap::encode_state(out, state);
  return out.take();
}

// Decodes exactly `bytes` (trailing bytes are an error too).
template <typename T>
T decode(std::span<const std::uint8_t> bytes) {
  ByteReader in(bytes, "test state");
  T state{};
  snap::decode_state(in, state);
  in.expect_end();
  return state;
}

// Every proper prefix of a valid encoding is refused with a SnapshotError.
// Each prefix is its own exactly-sized allocation, so ASan sees any read
// past its end; an exception other than SnapshotError fails the test.
template <typename T>
void check_every_truncation_fails(const Bytes& bytes) {
  std::vector<std::size_t> accepted;
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    try {
      ByteReader in(prefix, "truncated state");
      T state{};
      snap::decode_state(in, state);
      accepted.push_back(length);
    } catch (const SnapshotError& error) {
      if (error.problem() != SnapshotProblem::Malformed) accepted.push_back(length);
    }
  }
  CHECK_MESSAGE(accepted.empty(), "prefixes accepted: ", accepted.size(), " of ", bytes.size());
}

// Encodes `state`, checks the result decodes to the same thing (compared by
// `same`) and that no truncation of it decodes.
template <typename T, typename Same>
Bytes check_round_trip(const T& state, Same&& same) {
  const Bytes bytes = encode(state);
  const T decoded = decode<T>(bytes);
  same(decoded, state);
  check_every_truncation_fails<T>(bytes);
  return bytes;
}

// `toggle` flips one boolean of the state. The encodings with and without
// the flip differ in exactly one byte, the flag; a 2 there is refused.
template <typename T, typename Toggle>
void check_flag_byte_refused(const T& state, Toggle&& toggle) {
  T toggled = state;
  toggle(toggled);
  Bytes bytes = encode(state);
  const Bytes other = encode(toggled);
  REQUIRE(bytes.size() == other.size());
  std::vector<std::size_t> differing;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != other[i]) differing.push_back(i);
  }
  REQUIRE(differing.size() == 1);
  const std::size_t at = differing[0];
  CHECK(bytes[at] + other[at] == 1);  // one is 0, the other 1
  bytes[at] = 2;
  const auto error = expect_snapshot_error([&] { static_cast<void>(decode<T>(bytes)); });
  CHECK(error.problem == SnapshotProblem::Malformed);
  CHECK(contains(error.message, "instead of 0 or 1"));
}

std::uint32_t u32_at(const Bytes& bytes, std::size_t at) {
  REQUIRE(at + 4 <= bytes.size());
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = value << 8 | bytes[at + static_cast<std::size_t>(i)];
  return value;
}

void put_u32(Bytes& bytes, std::size_t at, std::uint32_t value) {
  REQUIRE(at + 4 <= bytes.size());
  for (std::size_t i = 0; i < 4; ++i) bytes[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

void put_u64(Bytes& bytes, std::size_t at, std::uint64_t value) {
  REQUIRE(at + 8 <= bytes.size());
  for (std::size_t i = 0; i < 8; ++i) bytes[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

// `bytes` with the u32 at `at` (which must hold `expected`: a guard on the
// layout this test assumes) replaced by `value`, must be refused with a
// message containing `why`.
template <typename T>
void check_u32_refused(Bytes bytes, std::size_t at, std::uint32_t expected, std::uint32_t value,
                       const std::string& why) {
  REQUIRE(u32_at(bytes, at) == expected);
  put_u32(bytes, at, value);
  const auto error = expect_snapshot_error([&] { static_cast<void>(decode<T>(bytes)); });
  CHECK(error.problem == SnapshotProblem::Malformed);
  CHECK_MESSAGE(contains(error.message, why), error.message);
}

template <typename T>
void check_refused(const T& state, const std::string& why) {
  const Bytes bytes = encode(state);
  const auto error = expect_snapshot_error([&] { static_cast<void>(decode<T>(bytes)); });
  CHECK(error.problem == SnapshotProblem::Malformed);
  CHECK_MESSAGE(contains(error.message, why), error.message);
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(seed + i * 7);
  return bytes;
}

// --- Sample states: every field set, none to its default ---

nb::SerialPortState sample_serial() {
  nb::SerialPortState state;
  state.interrupt_enable = 0x0b;
  state.line_control = 0x9b;
  state.modem_control = 0x1f;
  state.scratch = 0x5a;
  state.divisor_low = 0x01;
  state.divisor_high = 0x02;
  state.fifos_enabled = true;
  state.receive_buffer = {'h', 'i', 0x00, 0xff};
  state.fifo_trigger = 0xc0;
  state.line_status_errors = 0x12;
  state.modem_status_deltas = 0x05;
  state.transmit_empty_pending = true;
  return state;
}

void same(const nb::SerialPortState& a, const nb::SerialPortState& b) {
  CHECK(a.interrupt_enable == b.interrupt_enable);
  CHECK(a.line_control == b.line_control);
  CHECK(a.modem_control == b.modem_control);
  CHECK(a.scratch == b.scratch);
  CHECK(a.divisor_low == b.divisor_low);
  CHECK(a.divisor_high == b.divisor_high);
  CHECK(a.fifos_enabled == b.fifos_enabled);
  CHECK(a.receive_buffer == b.receive_buffer);
  CHECK(a.fifo_trigger == b.fifo_trigger);
  CHECK(a.line_status_errors == b.line_status_errors);
  CHECK(a.modem_status_deltas == b.modem_status_deltas);
  CHECK(a.transmit_empty_pending == b.transmit_empty_pending);
}

nb::I8042State sample_i8042() {
  nb::I8042State state;
  for (std::size_t i = 0; i < state.ram.size(); ++i) state.ram[i] = static_cast<std::uint8_t>(i * 7 + 1);
  state.output_port = 0xcd;
  state.pending_command = 0x60;
  state.last_write_was_command = true;
  state.last_output = 0xfa;
  state.controller_output = {0x55};
  state.keyboard_output = {0xfa, 0xab, 0x83};
  state.scancodes = {0x1e, 0x9e, 0xe0, 0x48};
  state.keyboard_scanning = false;
  state.keyboard_pending_command = 0xed;
  state.keyboard_leds = 5;
  state.keyboard_scancode_set = 1;
  state.keyboard_typematic = 0x7f;
  return state;
}

void same(const nb::I8042State& a, const nb::I8042State& b) {
  CHECK(a.ram == b.ram);
  CHECK(a.output_port == b.output_port);
  CHECK(a.pending_command == b.pending_command);
  CHECK(a.last_write_was_command == b.last_write_was_command);
  CHECK(a.last_output == b.last_output);
  CHECK(a.controller_output == b.controller_output);
  CHECK(a.keyboard_output == b.keyboard_output);
  CHECK(a.scancodes == b.scancodes);
  CHECK(a.keyboard_scanning == b.keyboard_scanning);
  CHECK(a.keyboard_pending_command == b.keyboard_pending_command);
  CHECK(a.keyboard_leds == b.keyboard_leds);
  CHECK(a.keyboard_scancode_set == b.keyboard_scancode_set);
  CHECK(a.keyboard_typematic == b.keyboard_typematic);
}

nb::CmosRtcState sample_rtc() {
  nb::CmosRtcState state;
  for (std::size_t i = 0; i < state.cmos.size(); ++i) state.cmos[i] = static_cast<std::uint8_t>(i ^ 0x5a);
  state.index = 0x0d;
  state.nmi_disabled = true;
  state.offset_seconds = -5 * 3600 - 7;  // negative: the guest clock is behind
  state.flags = 0xd0;
  state.last_update_second = 1709251198;
  state.periodic_remaining_ns = 976562;
  return state;
}

void same(const nb::CmosRtcState& a, const nb::CmosRtcState& b) {
  CHECK(a.cmos == b.cmos);
  CHECK(a.index == b.index);
  CHECK(a.nmi_disabled == b.nmi_disabled);
  CHECK(a.offset_seconds == b.offset_seconds);
  CHECK(a.flags == b.flags);
  CHECK(a.last_update_second == b.last_update_second);
  CHECK(a.periodic_remaining_ns == b.periodic_remaining_ns);
}

nb::AcpiPmState sample_acpi_pm() {
  return {0x0100, 0x0120, 0x2c01, 0x00f0, 0x000f, 0x1234'5678'9abc'def0ull, 0x0fed'cba9'8765'4321ull};
}

void same(const nb::AcpiPmState& a, const nb::AcpiPmState& b) {
  CHECK(a.pm1_status == b.pm1_status);
  CHECK(a.pm1_enable == b.pm1_enable);
  CHECK(a.pm1_control == b.pm1_control);
  CHECK(a.gpe0_status == b.gpe0_status);
  CHECK(a.gpe0_enable == b.gpe0_enable);
  CHECK(a.timer_ticks == b.timer_ticks);
  CHECK(a.timer_status_ticks == b.timer_status_ticks);
}

void same(const nb::PostCodePortState& a, const nb::PostCodePortState& b) {
  CHECK(a.last_value == b.last_value);
}

void same(const pci::PciConfigPortsState& a, const pci::PciConfigPortsState& b) {
  CHECK(a.config_address == b.config_address);
}

pci::PciFunctionState sample_function() {
  pci::PciFunctionState state;
  const Bytes bytes = pattern(state.config.size(), 3);
  std::copy(bytes.begin(), bytes.end(), state.config.begin());
  state.intx_level = true;
  return state;
}

void same(const pci::PciFunctionState& a, const pci::PciFunctionState& b) {
  CHECK(a.config == b.config);
  CHECK(a.intx_level == b.intx_level);
}

pci::MsixState sample_msix(std::size_t vectors = 3) {
  pci::MsixState state;
  state.table = pattern(vectors * pci::kMsixEntrySize, 0x40);
  state.pending.assign(vectors, false);
  for (std::size_t i = 0; i < vectors; i += 2) state.pending[i] = true;
  state.enabled = true;
  state.function_masked = true;
  return state;
}

void same(const pci::MsixState& a, const pci::MsixState& b) {
  CHECK(a.table == b.table);
  CHECK(a.pending == b.pending);
  CHECK(a.enabled == b.enabled);
  CHECK(a.function_masked == b.function_masked);
}

virtio::VirtQueueState sample_queue() {
  virtio::VirtQueueState state;
  state.size = 128;
  state.ready = true;
  state.descriptor_table = 0x1'0000'1000;
  state.avail_ring = 0x1'0000'2000;
  state.used_ring = 0x1'0000'3000;
  state.next_avail = 0x1234;
  state.next_used = 0x1230;
  state.signalled_used = 0x122f;
  state.signalled_used_valid = true;
  state.event_index = true;
  state.indirect = true;
  return state;
}

void same(const virtio::VirtQueueState& a, const virtio::VirtQueueState& b) {
  CHECK(a.size == b.size);
  CHECK(a.ready == b.ready);
  CHECK(a.descriptor_table == b.descriptor_table);
  CHECK(a.avail_ring == b.avail_ring);
  CHECK(a.used_ring == b.used_ring);
  CHECK(a.next_avail == b.next_avail);
  CHECK(a.next_used == b.next_used);
  CHECK(a.signalled_used == b.signalled_used);
  CHECK(a.signalled_used_valid == b.signalled_used_valid);
  CHECK(a.event_index == b.event_index);
  CHECK(a.indirect == b.indirect);
}

virtio::VirtioPciQueueState sample_pci_queue() { return {sample_queue(), 1}; }

void same(const virtio::VirtioPciQueueState& a, const virtio::VirtioPciQueueState& b) {
  same(a.queue, b.queue);
  CHECK(a.msix_vector == b.msix_vector);
}

virtio::VirtioPciState sample_virtio_pci() {
  virtio::VirtioPciState state;
  state.function = sample_function();
  state.msix = sample_msix(3);
  state.status = 0x0f;
  state.config_generation = 9;
  state.isr = 3;
  state.device_feature_select = 1;
  state.driver_feature_select = 2;
  state.driver_features = 0x1'3000'0001ull;
  state.queue_select = 1;
  state.config_msix_vector = 0;
  state.queues.push_back(sample_pci_queue());
  virtio::VirtioPciQueueState second;
  second.queue.size = 7;  // a driver may write any size before it enables the queue
  second.queue.descriptor_table = 0x5000;
  second.msix_vector = 2;
  state.queues.push_back(second);
  return state;
}

void same(const virtio::VirtioPciState& a, const virtio::VirtioPciState& b) {
  same(a.function, b.function);
  same(a.msix, b.msix);
  CHECK(a.status == b.status);
  CHECK(a.config_generation == b.config_generation);
  CHECK(a.isr == b.isr);
  CHECK(a.device_feature_select == b.device_feature_select);
  CHECK(a.driver_feature_select == b.driver_feature_select);
  CHECK(a.driver_features == b.driver_features);
  CHECK(a.queue_select == b.queue_select);
  CHECK(a.config_msix_vector == b.config_msix_vector);
  REQUIRE(a.queues.size() == b.queues.size());
  for (std::size_t i = 0; i < a.queues.size(); ++i) same(a.queues[i], b.queues[i]);
}

virtio::VirtioBlkState sample_blk() {
  return {2048, true, 11, 12, 13, 14, 0x1'0000'0000ull, 0x2'0000'0000ull, 17};
}

void same(const virtio::VirtioBlkState& a, const virtio::VirtioBlkState& b) {
  CHECK(a.capacity_sectors == b.capacity_sectors);
  CHECK(a.read_only == b.read_only);
  CHECK(a.read_requests == b.read_requests);
  CHECK(a.write_requests == b.write_requests);
  CHECK(a.flush_requests == b.flush_requests);
  CHECK(a.discard_requests == b.discard_requests);
  CHECK(a.bytes_read == b.bytes_read);
  CHECK(a.bytes_written == b.bytes_written);
  CHECK(a.failed_requests == b.failed_requests);
}

net::NetStats sample_net_stats() { return {21, 22'000, 23, 24, 25'000, 26, 27}; }

void same(const net::NetStats& a, const net::NetStats& b) {
  CHECK(a.tx_frames == b.tx_frames);
  CHECK(a.tx_bytes == b.tx_bytes);
  CHECK(a.tx_dropped == b.tx_dropped);
  CHECK(a.rx_frames == b.rx_frames);
  CHECK(a.rx_bytes == b.rx_bytes);
  CHECK(a.rx_dropped == b.rx_dropped);
  CHECK(a.guest_errors == b.guest_errors);
}

virtio::VirtioNetState sample_net() { return {false, sample_net_stats()}; }

void same(const virtio::VirtioNetState& a, const virtio::VirtioNetState& b) {
  CHECK(a.link_up == b.link_up);
  same(a.stats, b.stats);
}

virtio::VirtioInputState sample_input() { return {0x11, 0x03, 0x05, 1920, 1080}; }

void same(const virtio::VirtioInputState& a, const virtio::VirtioInputState& b) {
  CHECK(a.select == b.select);
  CHECK(a.subsel == b.subsel);
  CHECK(a.leds == b.leds);
  CHECK(a.display_width == b.display_width);
  CHECK(a.display_height == b.display_height);
}

void same(const virtio::VirtioRngState& a, const virtio::VirtioRngState& b) {
  CHECK(a.bytes_delivered == b.bytes_delivered);
}

net::NetBackendState sample_backend() { return {"slirp", 4, pattern(300, 0)}; }

void same(const net::NetBackendState& a, const net::NetBackendState& b) {
  CHECK(a.kind == b.kind);
  CHECK(a.version == b.version);
  CHECK(a.data == b.data);
}

dispi::Registers sample_dispi() {
  return {0xb0c2, 1024, 768, 32, 0x41, 1, 1024, 4096, 3, 5, 256};
}

void same(const dispi::Registers& a, const dispi::Registers& b) { CHECK(a == b); }

display::VgaCompatState sample_vga() {
  display::VgaCompatState state;
  state.misc_output = 0x67;
  state.attribute_index = 0x14;
  state.attribute_flip_flop = true;
  for (std::size_t i = 0; i < state.attribute.size(); ++i) state.attribute[i] = static_cast<std::uint8_t>(0x30 + i);
  return state;
}

void same(const display::VgaCompatState& a, const display::VgaCompatState& b) {
  CHECK(a.misc_output == b.misc_output);
  CHECK(a.attribute_index == b.attribute_index);
  CHECK(a.attribute_flip_flop == b.attribute_flip_flop);
  CHECK(a.attribute == b.attribute);
}

void same(const display::EdidConfig& a, const display::EdidConfig& b) {
  CHECK(a.preferred_width == b.preferred_width);
  CHECK(a.preferred_height == b.preferred_height);
}

display::BochsDisplayState sample_display() {
  display::BochsDisplayState state;
  state.function = sample_function();
  state.vram_size = 32ull << 20;
  state.dispi = sample_dispi();
  state.big_endian = true;
  state.port_index = 4;
  state.vga = sample_vga();
  state.edid = {1920, 1200};
  return state;
}

void same(const display::BochsDisplayState& a, const display::BochsDisplayState& b) {
  same(a.function, b.function);
  CHECK(a.vram_size == b.vram_size);
  same(a.dispi, b.dispi);
  CHECK(a.big_endian == b.big_endian);
  CHECK(a.port_index == b.port_index);
  same(a.vga, b.vga);
  same(a.edid, b.edid);
}

// Generic lambda for check_round_trip: picks the overload above.
constexpr auto kSame = [](const auto& a, const auto& b) { same(a, b); };

}  // namespace

// --- Round trips, truncation, flag bytes ---

TEST_CASE("device state codec: legacy PC devices round-trip; truncations and bad flags refused") {
  SUBCASE("serial port") {
    check_round_trip(sample_serial(), kSame);
    check_flag_byte_refused(sample_serial(), [](nb::SerialPortState& s) { s.fifos_enabled = !s.fifos_enabled; });
    check_flag_byte_refused(sample_serial(),
                            [](nb::SerialPortState& s) { s.transmit_empty_pending = !s.transmit_empty_pending; });
  }
  SUBCASE("i8042") {
    check_round_trip(sample_i8042(), kSame);
    check_flag_byte_refused(sample_i8042(),
                            [](nb::I8042State& s) { s.last_write_was_command = !s.last_write_was_command; });
    check_flag_byte_refused(sample_i8042(), [](nb::I8042State& s) { s.keyboard_scanning = !s.keyboard_scanning; });
  }
  SUBCASE("CMOS RTC") {
    check_round_trip(sample_rtc(), kSame);
    check_flag_byte_refused(sample_rtc(), [](nb::CmosRtcState& s) { s.nmi_disabled = !s.nmi_disabled; });
  }
  SUBCASE("ACPI PM block") { check_round_trip(sample_acpi_pm(), kSame); }
  SUBCASE("POST code port") { check_round_trip(nb::PostCodePortState{0xdeadbeef}, kSame); }
}

TEST_CASE("device state codec: PCI states round-trip; truncations and bad flags refused") {
  SUBCASE("config ports") { check_round_trip(pci::PciConfigPortsState{0x8000'0810}, kSame); }
  SUBCASE("function") {
    check_round_trip(sample_function(), kSame);
    check_flag_byte_refused(sample_function(), [](pci::PciFunctionState& s) { s.intx_level = !s.intx_level; });
  }
  SUBCASE("MSI-X") {
    check_round_trip(sample_msix(), kSame);
    check_flag_byte_refused(sample_msix(), [](pci::MsixState& s) { s.pending[1] = !s.pending[1]; });
    check_flag_byte_refused(sample_msix(), [](pci::MsixState& s) { s.enabled = !s.enabled; });
    check_flag_byte_refused(sample_msix(), [](pci::MsixState& s) { s.function_masked = !s.function_masked; });
  }
}

TEST_CASE("device state codec: virtio states round-trip; truncations and bad flags refused") {
  SUBCASE("virtqueue") {
    check_round_trip(sample_queue(), kSame);
    check_flag_byte_refused(sample_queue(), [](virtio::VirtQueueState& s) { s.ready = !s.ready; });
    check_flag_byte_refused(sample_queue(),
                            [](virtio::VirtQueueState& s) { s.signalled_used_valid = !s.signalled_used_valid; });
    check_flag_byte_refused(sample_queue(), [](virtio::VirtQueueState& s) { s.event_index = !s.event_index; });
    check_flag_byte_refused(sample_queue(), [](virtio::VirtQueueState& s) { s.indirect = !s.indirect; });
  }
  SUBCASE("transport queue") { check_round_trip(sample_pci_queue(), kSame); }
  SUBCASE("transport") {
    check_round_trip(sample_virtio_pci(), kSame);
    check_flag_byte_refused(sample_virtio_pci(),
                            [](virtio::VirtioPciState& s) { s.function.intx_level = !s.function.intx_level; });
    check_flag_byte_refused(sample_virtio_pci(), [](virtio::VirtioPciState& s) { s.msix.enabled = !s.msix.enabled; });
    check_flag_byte_refused(sample_virtio_pci(), [](virtio::VirtioPciState& s) {
      s.queues[1].queue.indirect = !s.queues[1].queue.indirect;
    });
  }
  SUBCASE("blk") {
    check_round_trip(sample_blk(), kSame);
    check_flag_byte_refused(sample_blk(), [](virtio::VirtioBlkState& s) { s.read_only = !s.read_only; });
  }
  SUBCASE("net and its backend") {
    check_round_trip(sample_net_stats(), kSame);
    check_round_trip(sample_net(), kSame);
    check_flag_byte_refused(sample_net(), [](virtio::VirtioNetState& s) { s.link_up = !s.link_up; });
    check_round_trip(sample_backend(), kSame);
  }
  SUBCASE("input") { check_round_trip(sample_input(), kSame); }
  SUBCASE("rng") { check_round_trip(virtio::VirtioRngState{0x11'2233'4455ull}, kSame); }
}

TEST_CASE("device state codec: display states round-trip; truncations and bad flags refused") {
  SUBCASE("DISPI registers") { check_round_trip(sample_dispi(), kSame); }
  SUBCASE("VGA") {
    check_round_trip(sample_vga(), kSame);
    check_flag_byte_refused(sample_vga(),
                            [](display::VgaCompatState& s) { s.attribute_flip_flop = !s.attribute_flip_flop; });
  }
  SUBCASE("EDID") { check_round_trip(display::EdidConfig{1920, 1200}, kSame); }
  SUBCASE("bochs display") {
    check_round_trip(sample_display(), kSame);
    check_flag_byte_refused(sample_display(), [](display::BochsDisplayState& s) { s.big_endian = !s.big_endian; });
    check_flag_byte_refused(sample_display(), [](display::BochsDisplayState& s) {
      s.vga.attribute_flip_flop = !s.vga.attribute_flip_flop;
    });
  }
}

TEST_CASE("device state codec: the encoding is little-endian field by field") {
  // Pins the layout: a change here is a format change (bump the section version).
  const Bytes bytes = encode(sample_acpi_pm());
  const Bytes expected = {0x00, 0x01, 0x20, 0x01, 0x01, 0x2c, 0xf0, 0x00, 0x0f, 0x00,
                          0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12,
                          0x21, 0x43, 0x65, 0x87, 0xa9, 0xcb, 0xed, 0x0f};
  CHECK(bytes == expected);
  CHECK(encode(nb::PostCodePortState{0x01020304}) == Bytes{4, 3, 2, 1});
}

// --- Counts and limits ---

TEST_CASE("device state codec: byte queues are bounded by the devices' capacities") {
  SUBCASE("serial receive buffer: the capacity fits, one more does not") {
    nb::SerialPortState full = sample_serial();
    full.receive_buffer.assign(nb::SerialPort::kReceiveCapacity, 'x');
    CHECK(decode<nb::SerialPortState>(encode(full)).receive_buffer == full.receive_buffer);
    const Bytes bytes = encode(sample_serial());
    constexpr std::size_t kCountAt = 7;  // six registers and a flag before it
    check_u32_refused<nb::SerialPortState>(bytes, kCountAt, 4, nb::SerialPort::kReceiveCapacity + 1,
                                           "exceeds the limit of 4096");
    check_u32_refused<nb::SerialPortState>(bytes, kCountAt, 4, 0xffff'ffff, "exceeds the limit");
    // Within the limit but more than the input holds: refused before allocating.
    check_u32_refused<nb::SerialPortState>(bytes, kCountAt, 4, nb::SerialPort::kReceiveCapacity,
                                           "cannot fit");
  }
  SUBCASE("i8042 queues") {
    nb::I8042State full = sample_i8042();
    full.controller_output.assign(nb::I8042Controller::kReplyQueueCapacity, 0x55);
    full.keyboard_output.assign(nb::I8042Controller::kReplyQueueCapacity, 0xfa);
    full.scancodes.assign(nb::I8042Controller::kKeyboardQueueCapacity, 0x1e);
    same(decode<nb::I8042State>(encode(full)), full);

    const Bytes bytes = encode(sample_i8042());
    // RAM (u32 length + 32 bytes) and four single bytes, then the three queues.
    constexpr std::size_t kControllerAt = 40;
    constexpr std::size_t kKeyboardAt = kControllerAt + 4 + 1;
    constexpr std::size_t kScancodesAt = kKeyboardAt + 4 + 3;
    check_u32_refused<nb::I8042State>(bytes, kControllerAt, 1, 17, "exceeds the limit of 16");
    check_u32_refused<nb::I8042State>(bytes, kKeyboardAt, 3, 0xffff'ffff, "exceeds the limit of 16");
    check_u32_refused<nb::I8042State>(bytes, kScancodesAt, 4, 1025, "exceeds the limit of 1024");
    check_u32_refused<nb::I8042State>(bytes, kScancodesAt, 4, 1024, "cannot fit");
  }
  SUBCASE("network backend state: kind and data") {
    net::NetBackendState long_kind = sample_backend();
    long_kind.kind.assign(snap::kMaxNetBackendKindLength + 1, 'k');
    check_refused(long_kind, "exceeds the limit of 64");
    Bytes bytes = encode(sample_backend());
    constexpr std::size_t kDataLengthAt = 4 + 5 + 4;  // "slirp", then the version
    put_u64(bytes, kDataLengthAt, snap::kMaxNetBackendStateBytes + 1);
    CHECK(contains(expect_snapshot_error([&] { static_cast<void>(decode<net::NetBackendState>(bytes)); }).message,
                   "exceeds the limit"));
    put_u64(bytes, kDataLengthAt, ~0ull);
    CHECK(contains(expect_snapshot_error([&] { static_cast<void>(decode<net::NetBackendState>(bytes)); }).message,
                   "exceeds the limit"));
  }
}

TEST_CASE("device state codec: fixed-size arrays must have exactly their size") {
  const Bytes rtc = encode(sample_rtc());
  check_u32_refused<nb::CmosRtcState>(rtc, 0, 128, 127, "the CMOS RAM is 127 bytes, expected 128");
  check_u32_refused<nb::CmosRtcState>(rtc, 0, 128, 129, "expected 128");
  check_u32_refused<nb::CmosRtcState>(rtc, 0, 128, 0xffff'ffff, "expected 128");
  check_u32_refused<nb::I8042State>(encode(sample_i8042()), 0, 32, 33, "the i8042 RAM");
  check_u32_refused<pci::PciFunctionState>(encode(sample_function()), 0, 4096, 256,
                                           "the PCI configuration space is 256 bytes");
  check_u32_refused<dispi::Registers>(encode(sample_dispi()), 0, 11, 12, "12 DISPI registers");
  check_u32_refused<display::VgaCompatState>(encode(sample_vga()), 3, 21, 20, "VGA attribute");
}

TEST_CASE("device state codec: MSI-X vector counts and tables") {
  pci::MsixState largest = sample_msix(pci::kMsixMaxVectors);
  same(decode<pci::MsixState>(encode(largest)), largest);

  const Bytes bytes = encode(sample_msix(3));
  check_u32_refused<pci::MsixState>(bytes, 0, 3, pci::kMsixMaxVectors + 1u, "exceeds the limit of 2048");
  check_u32_refused<pci::MsixState>(bytes, 0, 3, 0xffff'ffff, "exceeds the limit");
  check_u32_refused<pci::MsixState>(bytes, 0, 3, pci::kMsixMaxVectors, "cannot fit");
  check_u32_refused<pci::MsixState>(bytes, 0, 3, 0, "no vectors");
  check_u32_refused<pci::MsixState>(bytes, 4, 48, 47, "an MSI-X table of 47 bytes for 3 vectors");
  // A state whose table and pending bits disagree is written as it is and refused on reading.
  pci::MsixState inconsistent = sample_msix(3);
  inconsistent.table.resize(4 * pci::kMsixEntrySize);
  check_refused(inconsistent, "an MSI-X table of 64 bytes for 3 vectors");
}

TEST_CASE("device state codec: virtio transport queues and vectors") {
  SUBCASE("the most queues a device may have, each with its vector") {
    virtio::VirtioPciState largest = sample_virtio_pci();
    largest.msix = sample_msix(snap::kMaxVirtioQueues + 1);
    largest.queues.assign(snap::kMaxVirtioQueues, sample_pci_queue());
    for (std::size_t i = 0; i < largest.queues.size(); ++i) {
      largest.queues[i].msix_vector = static_cast<std::uint16_t>(i + 1);
    }
    same(decode<virtio::VirtioPciState>(encode(largest)), largest);
  }
  SUBCASE("queue counts") {
    const Bytes bytes = encode(sample_virtio_pci());
    // Config space, MSI-X (two u32s, 16 + 1 bytes per vector, two flags),
    // then 23 bytes of registers.
    constexpr std::size_t kQueueCountAt = (4 + 4096 + 1) + (8 + 3 * 17 + 2) + 23;
    check_u32_refused<virtio::VirtioPciState>(bytes, kQueueCountAt, 2, 257, "exceeds the limit of 256");
    check_u32_refused<virtio::VirtioPciState>(bytes, kQueueCountAt, 2, 0xffff'ffff, "exceeds the limit");
    check_u32_refused<virtio::VirtioPciState>(bytes, kQueueCountAt, 2, 256, "cannot fit");
    check_u32_refused<virtio::VirtioPciState>(bytes, kQueueCountAt, 2, 0, "no queues");
  }
  SUBCASE("a vector the function does not have") {
    virtio::VirtioPciState state = sample_virtio_pci();
    state.queues[1].msix_vector = 3;  // vectors 0-2 exist
    check_refused(state, "queue 1 uses MSI-X vector 3 of 3");
    state.queues[1].msix_vector = virtio::kNoVector;
    state.config_msix_vector = 7;
    check_refused(state, "the configuration interrupt uses MSI-X vector 7");
    state.config_msix_vector = virtio::kNoVector;
    CHECK(decode<virtio::VirtioPciState>(encode(state)).config_msix_vector == virtio::kNoVector);
  }
  SUBCASE("an enabled queue has a power-of-two size up to 32768") {
    virtio::VirtQueueState queue = sample_queue();
    for (const std::uint16_t bad : {0, 3, 384, 65535}) {
      queue.size = bad;
      check_refused(queue, "an enabled virtqueue of size " + std::to_string(bad));
    }
    queue.size = 32768;
    CHECK(decode<virtio::VirtQueueState>(encode(queue)).size == 32768);
    queue.ready = false;
    queue.size = 3;  // not checked until the driver enables it
    CHECK(decode<virtio::VirtQueueState>(encode(queue)).size == 3);
  }
}

TEST_CASE("device state codec: values outside what a device can hold are refused") {
  SUBCASE("scancode sets 1 to 3") {
    nb::I8042State state = sample_i8042();
    state.keyboard_scancode_set = 3;  // older snapshots; restore() takes it as 2
    CHECK(decode<nb::I8042State>(encode(state)).keyboard_scancode_set == 3);
    state.keyboard_scancode_set = 0;
    check_refused(state, "scancode set 0");
    state.keyboard_scancode_set = 4;
    check_refused(state, "scancode set 4");
  }
  SUBCASE("the RTC's periodic countdown is -1 or more") {
    nb::CmosRtcState state = sample_rtc();
    state.periodic_remaining_ns = -1;
    CHECK(decode<nb::CmosRtcState>(encode(state)).periodic_remaining_ns == -1);
    state.periodic_remaining_ns = -2;
    check_refused(state, "due in -2 ns");
  }
  SUBCASE("video memory is a power of two from 1 to 256 MiB") {
    display::BochsDisplayState state = sample_display();
    for (const std::uint64_t bad : {0ull, 512ull << 10, 3ull << 20, 512ull << 20}) {
      state.vram_size = bad;
      check_refused(state, "video memory of " + std::to_string(bad) + " bytes");
    }
    state.vram_size = display::kMinVramSize;
    CHECK(decode<display::BochsDisplayState>(encode(state)).vram_size == display::kMinVramSize);
    state.vram_size = display::kMaxVramSize;
    CHECK(decode<display::BochsDisplayState>(encode(state)).vram_size == display::kMaxVramSize);
  }
}

// --- The machine layer's device record ---

TEST_CASE("device state codec: a device record goes through a state file") {
  constexpr std::uint32_t kTag = snap::section_tag("COM1");
  const std::vector<snap::SectionSpec> specs = {snap::device_section_spec(kTag, "serial port")};
  CHECK(specs[0].oldest_version == snap::kDeviceStateEncodingVersion);
  CHECK(specs[0].newest_version == snap::kDeviceStateEncodingVersion);
  CHECK(specs[0].required);

  snap::StateFileWriter writer;
  writer.add(kTag, snap::kDeviceStateEncodingVersion, snap::encode_device_record(sample_serial()));
  const snap::StateFile file = snap::StateFile::parse(writer.bytes(), specs, "test.state");
  same(snap::decode_device_record<nb::SerialPortState>(file.reader(kTag), file.version(kTag)), sample_serial());

  SUBCASE("another version is refused as unsupported") {
    const Bytes payload = snap::encode_device_record(sample_serial());
    const auto error = expect_snapshot_error([&] {
      static_cast<void>(snap::decode_device_record<nb::SerialPortState>(ByteReader(payload, "section COM1"),
                                                                        snap::kDeviceStateEncodingVersion + 1));
    });
    CHECK(error.problem == SnapshotProblem::UnsupportedSection);
    CHECK(contains(error.message, "section COM1: device state version 2"));
  }
  SUBCASE("trailing bytes are refused") {
    Bytes payload = snap::encode_device_record(sample_serial());
    payload.push_back(0);
    const auto error = expect_snapshot_error([&] {
      static_cast<void>(snap::decode_device_record<nb::SerialPortState>(ByteReader(payload, "section COM1"),
                                                                        snap::kDeviceStateEncodingVersion));
    });
    CHECK(error.problem == SnapshotProblem::Malformed);
    CHECK(contains(error.message, "1 unexpected bytes at the end"));
  }
}

// --- Real devices: save, encode, decode, restore into a fresh one, save again ---

namespace {

template <typename T>
T through_codec(const T& state) {
  const Bytes record = snap::encode_device_record(state);
  return snap::decode_device_record<T>(ByteReader(record, "device"), snap::kDeviceStateEncodingVersion);
}

void port_out(nb::BusDevice& device, std::uint64_t offset, std::uint8_t value) {
  const std::array<std::uint8_t, 1> byte{value};
  device.write(offset, byte);
}

class NullBarMapper : public pci::PciBarMapper {
 public:
  void map_bar(const pci::PciBarMapping&) override {}
  void unmap_bar(const pci::PciBarMapping&) override {}
};

// A disk that only has a size: the device's state is its identity and counters.
class SizedDisk : public nb::block::DiskImage {
 public:
  explicit SizedDisk(std::uint64_t size) : size_(size) {}
  nb::block::ImageFormat format() const override { return nb::block::ImageFormat::Raw; }
  const std::string& path() const override { return path_; }
  std::uint64_t virtual_size() const override { return size_; }
  bool read_only() const override { return false; }
  const DiskImage* backing() const override { return nullptr; }
  std::uint64_t allocated_bytes() const override { return 0; }
  void read(std::uint64_t, std::span<std::uint8_t> out) override { std::fill(out.begin(), out.end(), 0); }
  void write(std::uint64_t, std::span<const std::uint8_t>) override {}
  void write_zeroes(std::uint64_t, std::uint64_t) override {}
  void discard(std::uint64_t, std::uint64_t) override {}
  void flush() override {}
  void close() override {}

 private:
  std::uint64_t size_;
  std::string path_ = "sized.img";
};

class QuietBackend : public net::NetBackend {
 public:
  void set_frame_sink(net::FrameSink) override {}
  void send_to_network(std::span<const std::uint8_t>) override {}
  void set_link_up(bool up) override { link = up; }
  [[nodiscard]] bool link_up() const override { return link; }
  [[nodiscard]] net::NetStats stats() const override { return {}; }
  net::NetBackendState save() override { return {}; }
  net::RestoreOutcome restore(const net::NetBackendState&) override { return net::RestoreOutcome::Restored; }
  net::PollPlan prepare_poll() override { return {}; }
  void process(std::span<const net::PollReady>, net::PollClock::time_point) override {}
  void set_interest_listener(std::function<void()>) override {}
  bool link = true;
};

}  // namespace

TEST_CASE("device state codec: legacy devices restore from decoded state") {
  SUBCASE("serial port") {
    nb::SerialPort port([](std::span<const std::uint8_t>) {});
    port_out(port, nb::uart::kLineControl, 0x83);  // DLAB: set the divisor
    port_out(port, nb::uart::kData, 0x01);
    port_out(port, nb::uart::kInterruptEnable, 0x02);
    port_out(port, nb::uart::kLineControl, 0x1b);
    port_out(port, nb::uart::kInterruptEnable, 0x0f);
    port_out(port, nb::uart::kInterruptIdent, 0xc1);  // FIFOs on, trigger 14
    port_out(port, nb::uart::kModemControl, 0x0b);
    port_out(port, nb::uart::kScratch, 0x42);
    const Bytes typed{'a', 'b', 'c'};
    port.receive(typed);
    const nb::SerialPortState saved = port.save();
    CHECK(saved.receive_buffer == typed);

    nb::SerialPort copy([](std::span<const std::uint8_t>) {});
    copy.restore(through_codec(saved));
    same(copy.save(), saved);
  }
  SUBCASE("i8042") {
    nb::I8042Controller kbc;
    port_out(kbc, nb::i8042::kCommandPort, nb::i8042::kCmdWriteCommandByte);
    port_out(kbc, nb::i8042::kDataPort, 0x07);
    port_out(kbc, nb::i8042::kDataPort, 0xed);  // the keyboard ACKs and waits for the LED byte
    port_out(kbc, nb::i8042::kCommandPort, nb::i8042::kCmdSelfTest);
    const Bytes scancodes{0x1e, 0x9e};
    kbc.queue_keyboard_bytes(scancodes);
    const nb::I8042State saved = kbc.save();
    CHECK(saved.keyboard_pending_command == 0xed);

    nb::I8042Controller copy;
    copy.restore(through_codec(saved));
    same(copy.save(), saved);
  }
  SUBCASE("CMOS RTC with its periodic interrupt running") {
    const std::chrono::system_clock::time_point wall{std::chrono::seconds(1709251198)};
    const std::chrono::steady_clock::time_point mono{std::chrono::hours(1)};
    nb::CmosRtc rtc([&] { return wall; }, [&] { return mono; });
    const auto set = [&](std::uint8_t index, std::uint8_t value) {
      port_out(rtc, nb::rtc::kIndexPort, index);
      port_out(rtc, nb::rtc::kDataPort, value);
    };
    set(nb::rtc::kRegisterA, 0x26);  // time base running, 1024 Hz
    set(nb::rtc::kRegisterB, nb::rtc::kBPeriodicEnable | nb::rtc::kB24Hour);
    set(0x40, 0x99);
    const nb::CmosRtcState saved = rtc.save();
    CHECK(saved.periodic_remaining_ns >= 0);

    nb::CmosRtc copy([&] { return wall; }, [&] { return mono; });
    copy.restore(through_codec(saved));
    same(copy.save(), saved);
  }
  SUBCASE("ACPI PM block") {
    std::chrono::steady_clock::time_point now{std::chrono::hours(2)};
    nb::AcpiPmBlock block([&] { return now; }, nullptr, {});
    const std::array<std::uint8_t, 2> enable{static_cast<std::uint8_t>(nb::acpi_pm::kPowerButtonEnable),
                                             static_cast<std::uint8_t>(nb::acpi_pm::kPowerButtonEnable >> 8)};
    block.write(nb::acpi_pm::kPm1EnableOffset, enable);
    block.press_power_button();
    now += std::chrono::seconds(3);
    const nb::AcpiPmState saved = block.save();
    CHECK(saved.timer_ticks != 0);

    nb::AcpiPmBlock copy([&] { return now; }, nullptr, {});
    copy.restore(through_codec(saved));
    same(copy.save(), saved);
  }
  SUBCASE("POST code port and PCI config ports") {
    nb::PostCodePort post;
    const std::array<std::uint8_t, 2> code{0xef, 0xbe};
    post.write(0, code);
    nb::PostCodePort post_copy;
    post_copy.restore(through_codec(post.save()));
    CHECK(post_copy.save().last_value == 0xbeef);

    pci::PciConfigPorts ports(nullptr);  // only CONFIG_ADDRESS is used
    const std::array<std::uint8_t, 4> address{0x10, 0x08, 0x00, 0x80};
    ports.write(0, address);
    pci::PciConfigPorts ports_copy(nullptr);
    ports_copy.restore(through_codec(ports.save()));
    CHECK(ports_copy.save().config_address == 0x8000'0810);
  }
}

TEST_CASE("device state codec: virtio devices restore from decoded state") {
  SUBCASE("virtio-pci transport with virtio-rng, MSI-X on and a queue in use") {
    nb::GuestMemory memory = nb::test::make_guest_memory();
    auto sink = std::make_shared<nb::test::RecordingMsiSink>();
    NullBarMapper mapper;
    const auto entropy = [](std::span<std::uint8_t> buffer) { std::fill(buffer.begin(), buffer.end(), 0xab); };
    auto rng = std::make_unique<virtio::VirtioRng>(entropy);
    virtio::VirtioRng* rng_device = rng.get();
    auto transport = std::make_shared<virtio::VirtioPciDevice>(std::move(rng), memory, sink);
    transport->connect(pci::PciAddress{0, 1, 0}, &mapper, nullptr);
    nb::test::VirtioPciDriver driver(*transport);
    driver.enable_msix(2, 0xfee0'0000, 0x40);
    REQUIRE((driver.negotiate(virtio::kFeatureVersion1 | virtio::kFeatureEventIdx) & virtio::kStatusFeaturesOk) != 0);
    const nb::test::QueueLayout layout = nb::test::QueueLayout::contiguous(0x1000, 16);
    driver.setup_queue(0, layout, 0);
    driver.set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                      virtio::kStatusDriverOk);
    nb::test::VirtqueueBuilder ring(memory, layout);
    ring.write_chain(0, {{0x8000, 32, true}});
    ring.make_available(0);
    transport->notify_queue(0);
    REQUIRE(ring.used_idx() == 1);
    const virtio::VirtioPciState saved = transport->save();
    const virtio::VirtioRngState saved_rng = rng_device->save();
    CHECK(saved.queues[0].queue.next_avail == 1);
    CHECK(saved_rng.bytes_delivered == 32);

    auto copy_rng = std::make_unique<virtio::VirtioRng>(entropy);
    virtio::VirtioRng* copy_rng_device = copy_rng.get();
    auto copy = std::make_shared<virtio::VirtioPciDevice>(std::move(copy_rng), memory, sink);
    copy->connect(pci::PciAddress{0, 2, 0}, &mapper, nullptr);
    copy_rng_device->restore(through_codec(saved_rng));
    copy->restore(through_codec(saved));
    same(copy->save(), saved);
    same(copy_rng_device->save(), saved_rng);
  }
  SUBCASE("virtio-input") {
    virtio::VirtioInput tablet(virtio::InputDeviceKind::Tablet);
    const std::array<std::uint8_t, 2> select{0x11, 0x03};
    tablet.write_config(0, select);
    tablet.set_display_size(1920, 1080);
    const virtio::VirtioInputState saved = tablet.save();
    virtio::VirtioInput copy(virtio::InputDeviceKind::Tablet);
    copy.restore(through_codec(saved));
    same(copy.save(), saved);
  }
  SUBCASE("virtio-blk") {
    auto disk = std::make_shared<SizedDisk>(1 << 20);
    virtio::VirtioBlk blk(disk, true, "serial");
    virtio::VirtioBlkState state = sample_blk();
    state.capacity_sectors = (1 << 20) / 512;
    blk.restore(through_codec(state));
    same(blk.save(), state);
  }
  SUBCASE("virtio-net") {
    QuietBackend backend;
    virtio::VirtioNet nic(backend, net::MacAddress{{0x02, 0x4e, 0x42, 0x11, 0x22, 0x33}},
                          [](std::function<void()> task) { task(); });
    nic.restore(through_codec(sample_net()));
    same(nic.save(), sample_net());
  }
}

TEST_CASE("device state codec: the bochs display restores from decoded state") {
  const display::BochsDisplayConfig config{4ull << 20, {1024, 768}};
  auto screen = std::make_shared<display::BochsDisplay>(config);
  screen->program_bar(display::BochsDisplay::kFramebufferBar, 0xc000'0000);
  screen->program_bar(display::BochsDisplay::kMmioBar, 0xc100'0000);
  screen->enable_decoding();
  screen->set_interrupt_line_register(11);
  screen->set_initial_mode(800, 600);
  const std::array<std::uint8_t, 1> attribute_index{0x30};  // register 0x10, picture on
  const std::array<std::uint8_t, 1> attribute_value{0x41};
  screen->mmio_write(display::BochsDisplay::kVgaOffset, attribute_index);
  screen->mmio_write(display::BochsDisplay::kVgaOffset, attribute_value);
  const std::array<std::uint8_t, 4> big_endian{0xbe, 0xbe, 0xbe, 0xbe};
  screen->mmio_write(display::BochsDisplay::kQextByteOrderOffset, big_endian);
  const std::array<std::uint8_t, 2> index{dispi::kIndexYres, 0};
  screen->port_write(0, index);
  const display::BochsDisplayState saved = screen->save();
  CHECK(saved.big_endian);
  CHECK(saved.port_index == dispi::kIndexYres);
  CHECK(saved.dispi[dispi::kIndexXres] == 800);

  auto copy = std::make_shared<display::BochsDisplay>(display::BochsDisplayConfig{4ull << 20, {}});
  copy->restore(through_codec(saved));
  same(copy->save(), saved);
  CHECK(copy->visible_mode() == screen->visible_mode());
}
