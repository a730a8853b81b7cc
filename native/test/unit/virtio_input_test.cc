// virtio-input behind the real virtio-pci transport, driven the way Linux's
// virtio_input driver drives it: configuration space probing, 8-byte event
// buffers on queue 0, LED reports on queue 1.
#include <doctest/doctest.h>

#include "support/recording_msi_sink.h"

#include <array>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bus/pci/msi_sink.h"
#include "bus/pci/pci_bar_allocator.h"
#include "bus/pci/pci_bar_space.h"
#include "bus/pci/pci_layout.h"
#include "bus/pci/pci_root_complex.h"
#include "devices/input/key_codes.h"
#include "devices/virtio/input/virtio_input.h"
#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "devices/virtio/queue/virtq_abi.h"
#include "devices/virtio/virtio_abi.h"
#include "support/fake_guest_memory.h"
#include "support/fake_interrupt_line.h"
#include "support/virtio_pci_driver.h"
#include "support/virtqueue_builder.h"

using namespace nestbox;
using namespace nestbox::virtio;
namespace t = nestbox::virtio::pci_transport;
namespace ia = nestbox::virtio::input_abi;
namespace ev = nestbox::input::evdev;
using test::QueueLayout;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint16_t kEventRingSize = 16;
constexpr std::uint64_t kEventBuffers = 0x10000;   // event descriptor i → kEventBuffers + 8 i
constexpr std::uint64_t kStatusBuffers = 0x18000;
constexpr std::uint32_t kMsiEvent = 0x40;          // vector 0: eventq
constexpr std::uint32_t kMsiStatus = 0x41;         // vector 1: statusq

struct InputFixture {
  GuestMemory memory = test::make_guest_memory();
  std::shared_ptr<test::RecordingMsiSink> sink = std::make_shared<test::RecordingMsiSink>();
  std::shared_ptr<test::FakeInterruptLine> gsi = std::make_shared<test::FakeInterruptLine>();
  std::shared_ptr<pci::PciBarSpace> mmio =
      std::make_shared<pci::PciBarSpace>("mmio", pci::kMmioWindowBase, pci::kMmioWindowSize);
  std::shared_ptr<pci::PciBarSpace> io =
      std::make_shared<pci::PciBarSpace>("io", pci::kIoWindowBase, pci::kIoWindowSize);
  pci::PciBarRouter router{io, mmio};
  pci::PciRootComplex root{router, {gsi, gsi, gsi, gsi}};
  std::shared_ptr<VirtioPciDevice> transport;
  test::VirtioPciDriver driver;
  QueueLayout event_layout = QueueLayout::contiguous(0x1000, kEventRingSize);
  QueueLayout status_layout = QueueLayout::contiguous(0x2000, 8);
  test::VirtqueueBuilder events{memory, event_layout};
  test::VirtqueueBuilder status{memory, status_layout};
  std::uint16_t posted = 0;     // event buffers made available so far
  std::uint16_t collected = 0;  // used entries already read by collect()
  std::vector<std::string> log;

  explicit InputFixture(InputDeviceKind kind)
      : transport(std::make_shared<VirtioPciDevice>(
            std::make_unique<VirtioInput>(kind, [this](std::string_view line) { log.emplace_back(line); }),
            memory, sink)),
        driver(*transport) {
    root.add_device(3, transport);
    pci::PciBarAllocator allocator;
    root.assign_resources(allocator);
  }

  VirtioInput& input() { return static_cast<VirtioInput&>(transport->device()); }

  void bring_up() {
    driver.enable_msix(3, 0xfee0'0000, kMsiEvent);
    REQUIRE((driver.negotiate(kFeatureVersion1) & kStatusFeaturesOk) != 0);
    driver.write<std::uint16_t>(t::kConfigMsixVector, 2);
    driver.setup_queue(0, event_layout, 0);
    driver.setup_queue(1, status_layout, 1);
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    REQUIRE((driver.status() & kStatusDriverOk) != 0);
  }

  // Configuration space, through BAR 0 like the guest.
  void select(std::uint8_t sel, std::uint8_t subsel) {
    driver.write<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset + ia::kConfigSelect, sel);
    driver.write<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset + ia::kConfigSubsel, subsel);
  }
  std::uint8_t config_byte(std::uint32_t offset) {
    return driver.read<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset + offset);
  }
  // The union, `size` bytes long as the device reports it.
  Bytes selected(std::uint8_t sel, std::uint8_t subsel) {
    select(sel, subsel);
    const std::uint8_t size = config_byte(ia::kConfigSize);
    Bytes bytes;
    for (std::uint32_t i = 0; i < size; ++i) bytes.push_back(config_byte(ia::kConfigUnion + i));
    return bytes;
  }

  // Makes `count` 8-byte event buffers available and tells the device.
  void post_event_buffers(std::uint16_t count, bool notify = true) {
    for (std::uint16_t i = 0; i < count; ++i) {
      const auto desc = static_cast<std::uint16_t>(posted % kEventRingSize);
      events.write_chain(desc, {{kEventBuffers + 8ull * desc, 8, true}});
      events.make_available(desc);
      ++posted;
    }
    if (notify) transport->notify_queue(0);
  }
  // Events returned since the last call, in used-ring order.
  std::vector<InputEvent> collect() {
    std::vector<InputEvent> out;
    for (; collected != events.used_idx(); ++collected) {
      const VirtqUsedElement used = events.used_element(collected);
      CHECK(used.length == ia::kEventSize);
      const std::uint64_t at = kEventBuffers + 8ull * used.id;
      out.push_back(InputEvent{memory.read_object<std::uint16_t>(at),
                               memory.read_object<std::uint16_t>(at + 2),
                               memory.read_object<std::int32_t>(at + 4)});
    }
    return out;
  }
  bool inject_key(std::uint16_t code, bool pressed) {
    const std::array<InputEvent, 1> event{InputEvent{ev::kEvKey, code, pressed ? 1 : 0}};
    return input().inject(event);
  }
};

struct KeyboardFixture : InputFixture {
  KeyboardFixture() : InputFixture(InputDeviceKind::Keyboard) {}
};
struct TabletFixture : InputFixture {
  TabletFixture() : InputFixture(InputDeviceKind::Tablet) {}
};

constexpr InputEvent kSyn{ev::kEvSyn, ev::kSynReport, 0};

std::uint32_t le32(const Bytes& bytes, std::size_t at) {
  return std::uint32_t{bytes[at]} | std::uint32_t{bytes[at + 1]} << 8 |
         std::uint32_t{bytes[at + 2]} << 16 | std::uint32_t{bytes[at + 3]} << 24;
}

bool bit_set(const Bytes& bitmap, std::uint16_t code) {
  return code / 8u < bitmap.size() && (bitmap[code / 8u] & (1u << (code % 8u))) != 0;
}

}  // namespace

namespace nestbox::virtio {
// For doctest's messages.
inline doctest::String toString(const InputEvent& e) {
  return (std::to_string(e.type) + "/" + std::to_string(e.code) + "/" + std::to_string(e.value)).c_str();
}
}  // namespace nestbox::virtio

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input keyboard: identity and configuration space") {
  CHECK(driver.config_read<std::uint16_t>(0) == t::kVendorId);
  CHECK(driver.config_read<std::uint16_t>(2) == t::kDeviceIdBase + kDeviceTypeInput);
  CHECK(transport->queue_count() == 2);

  const Bytes name = selected(ia::kCfgIdName, 0);
  CHECK(std::string(name.begin(), name.end()) == "Nestbox Keyboard");
  CHECK_FALSE(selected(ia::kCfgIdSerial, 0).empty());
  const Bytes ids = selected(ia::kCfgIdDevids, 0);
  REQUIRE(ids.size() == ia::kDevidsSize);
  CHECK(ids[0] == ev::kBusVirtual);
  CHECK(ids[1] == 0);
  CHECK(selected(ia::kCfgPropBits, 0).empty());

  const Bytes keys = selected(ia::kCfgEvBits, ev::kEvKey);
  std::uint16_t highest = 0;
  for (const input::KeyCode& key : input::key_codes()) {
    INFO(std::string(key.code));
    CHECK(bit_set(keys, key.evdev));
    highest = std::max(highest, key.evdev);
  }
  CHECK(keys.size() == highest / 8u + 1);  // trimmed after the last key
  CHECK_FALSE(bit_set(keys, 0));           // KEY_RESERVED
  CHECK_FALSE(bit_set(keys, 84));          // no key there
  CHECK_FALSE(selected(ia::kCfgEvBits, ev::kEvRep).empty());  // Linux autorepeats
  CHECK(selected(ia::kCfgEvBits, ev::kEvLed) == Bytes{0x07});
  CHECK(selected(ia::kCfgEvBits, ev::kEvRel).empty());
  CHECK(selected(ia::kCfgEvBits, ev::kEvAbs).empty());
  CHECK(selected(ia::kCfgEvBits, ev::kEvSyn).empty());
  CHECK(selected(ia::kCfgAbsInfo, ev::kAbsX).empty());

  // Unknown or unset selections: size 0 and an all-zero union.
  for (std::uint8_t sel : {ia::kCfgUnset, std::uint8_t{0x04}, std::uint8_t{0x7f}, std::uint8_t{0xff}}) {
    select(sel, 3);
    CHECK(config_byte(ia::kConfigSize) == 0);
    for (std::uint32_t i = 0; i < ia::kConfigUnionSize; i += 17) CHECK(config_byte(ia::kConfigUnion + i) == 0);
  }

  // The header reads back whole; only select and subsel take writes.
  select(ia::kCfgIdName, 0x22);
  driver.write<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset + ia::kConfigSize, 99);
  driver.write<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset + ia::kConfigUnion, 'X');
  CHECK(driver.read<std::uint32_t>(VirtioPciDevice::kDeviceCfgOffset) ==
        (ia::kCfgIdName | 0x22u << 8 | 16u << 16));
  CHECK(config_byte(ia::kConfigUnion) == 'N');
  // A 16-bit write covers both fields at once.
  driver.write<std::uint16_t>(VirtioPciDevice::kDeviceCfgOffset,
                              static_cast<std::uint16_t>(ia::kCfgEvBits | ev::kEvLed << 8));
  CHECK(config_byte(ia::kConfigSize) == 1);
  CHECK(config_byte(ia::kConfigUnion) == 0x07);
}

TEST_CASE_FIXTURE(TabletFixture, "virtio-input tablet: absolute axes, buttons and wheels") {
  const Bytes name = selected(ia::kCfgIdName, 0);
  CHECK(std::string(name.begin(), name.end()) == "Nestbox Tablet");
  CHECK(selected(ia::kCfgEvBits, ev::kEvAbs) == Bytes{0x03});
  for (std::uint8_t axis : {std::uint8_t{ev::kAbsX}, std::uint8_t{ev::kAbsY}}) {
    const Bytes info = selected(ia::kCfgAbsInfo, axis);
    REQUIRE(info.size() == ia::kAbsInfoSize);
    CHECK(le32(info, 0) == 0);                                          // min
    CHECK(le32(info, 4) == static_cast<std::uint32_t>(VirtioInput::kAbsMax));  // max
    CHECK(le32(info, 8) == 0);
    CHECK(le32(info, 12) == 0);
    CHECK(le32(info, 16) == 0);
  }
  CHECK(selected(ia::kCfgAbsInfo, 2).empty());  // ABS_Z: not ours
  const Bytes buttons = selected(ia::kCfgEvBits, ev::kEvKey);
  CHECK(buttons.size() == ev::kBtnExtra / 8u + 1);
  for (std::uint16_t b = ev::kBtnLeft; b <= ev::kBtnExtra; ++b) CHECK(bit_set(buttons, b));
  CHECK_FALSE(bit_set(buttons, 30));  // no keys on a tablet
  CHECK(selected(ia::kCfgEvBits, ev::kEvRel) == Bytes{0x40, 0x01});  // REL_HWHEEL, REL_WHEEL
  CHECK(selected(ia::kCfgEvBits, ev::kEvRep).empty());
  CHECK(selected(ia::kCfgEvBits, ev::kEvLed).empty());
  CHECK(selected(ia::kCfgPropBits, 0).empty());
  const Bytes ids = selected(ia::kCfgIdDevids, 0);
  REQUIRE(ids.size() == ia::kDevidsSize);
  CHECK(ids[4] == ia::kProductTablet);
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: events land in guest buffers, each batch ends in SYN_REPORT") {
  CHECK_FALSE(input().active());
  CHECK_FALSE(inject_key(30, true));  // no driver yet: refused, for the router to reroute
  bring_up();
  CHECK(input().active());
  post_event_buffers(8);
  CHECK(events.used_idx() == 0);

  CHECK(inject_key(30, true));
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvKey, 30, 1}, kSyn});
  CHECK(sink->count(kMsiEvent) == 1);

  const std::array<InputEvent, 2> batch{InputEvent{ev::kEvKey, 30, 0}, InputEvent{ev::kEvKey, 31, 1}};
  CHECK(input().inject(batch));
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvKey, 30, 0}, {ev::kEvKey, 31, 1}, kSyn});
  CHECK(sink->count(kMsiEvent) == 2);
  CHECK(input().stats().events_delivered == 5);
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: without buffers events wait, then go out in order") {
  bring_up();
  CHECK(inject_key(30, true));
  CHECK(inject_key(30, false));
  CHECK(inject_key(48, true));
  CHECK(events.used_idx() == 0);
  CHECK(sink->count(kMsiEvent) == 0);

  post_event_buffers(4);  // the driver's notification delivers what waited
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvKey, 30, 1}, kSyn, {ev::kEvKey, 30, 0}, kSyn});
  post_event_buffers(4);
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvKey, 48, 1}, kSyn});
  CHECK(sink->count(kMsiEvent) == 2);
  // Buffers left over take the next events at once.
  CHECK(inject_key(48, false));
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvKey, 48, 0}, kSyn});
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: the pending buffer is bounded and drops whole batches") {
  bring_up();
  std::size_t accepted = 0;
  while (inject_key(30, accepted % 2 == 0)) ++accepted;
  CHECK(accepted == VirtioInput::kPendingEvents / 2);
  CHECK(input().stats().batches_dropped == 1);
  const std::array<InputEvent, 3> big{};
  CHECK_FALSE(input().inject(big));
  CHECK(input().stats().batches_dropped == 2);

  std::vector<InputEvent> all;
  while (all.size() < VirtioInput::kPendingEvents) {
    post_event_buffers(kEventRingSize);
    const std::vector<InputEvent> got = collect();
    REQUIRE_FALSE(got.empty());
    all.insert(all.end(), got.begin(), got.end());
  }
  CHECK(all.size() == VirtioInput::kPendingEvents);
  CHECK(all.back() == kSyn);
  CHECK(all[all.size() - 2] == InputEvent{ev::kEvKey, 30, 0});
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: malformed event buffers come back unused") {
  bring_up();
  // A readable buffer, a 4-byte one, then an event split over 2 x 4 bytes.
  events.write_chain(0, {{kEventBuffers, 8, false}});
  events.write_chain(1, {{kEventBuffers + 8, 4, true}});
  events.write_chain(2, {{kEventBuffers + 16, 4, true}, {kEventBuffers + 0x100, 4, true}});
  events.write_chain(4, {{kEventBuffers + 32, 8, true}});
  for (std::uint16_t head : {0, 1, 2, 4}) events.make_available(head);
  CHECK(inject_key(30, true));
  REQUIRE(events.used_idx() == 4);
  CHECK(events.used_element(0).length == 0);
  CHECK(events.used_element(1).length == 0);
  CHECK(events.used_element(2).id == 2);
  CHECK(events.used_element(2).length == 8);
  CHECK(memory.read_object<std::uint16_t>(kEventBuffers + 16) == ev::kEvKey);
  CHECK(memory.read_object<std::uint16_t>(kEventBuffers + 18) == 30);
  CHECK(memory.read_object<std::int32_t>(kEventBuffers + 0x100) == 1);
  CHECK(events.used_element(3).id == 4);
  CHECK(memory.read_object<std::uint16_t>(kEventBuffers + 32) == ev::kEvSyn);
  CHECK(input().stats().buffers_rejected == 2);
  CHECK(log.size() == 2);
  CHECK((driver.status() & kStatusNeedsReset) == 0);
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: a broken queue puts the device in NEEDS_RESET") {
  bring_up();
  events.set_descriptor(0, test::kFakeRamSize - 4, 8, kDescFlagWrite);  // runs off RAM
  events.make_available(0);
  CHECK_FALSE(inject_key(30, true));  // the transport refused and failed the device
  CHECK((driver.status() & kStatusNeedsReset) != 0);
  CHECK(events.used_idx() == 0);
  CHECK_FALSE(inject_key(30, false));
  CHECK(sink->count(0x42) == 1);  // the configuration-change vector (vector 2)
  // The driver recovers by resetting and starting over.
  driver.set_status(0);
  CHECK_FALSE(input().active());
  posted = 0;
  collected = 0;
  std::fill_n(memory.span(0x1000, 0x1000).begin(), 0x1000, std::uint8_t{0});
  bring_up();
  post_event_buffers(2);
  CHECK(inject_key(30, true));
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvKey, 30, 1}, kSyn});
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: LED reports on the status queue are consumed") {
  bring_up();
  auto put_event = [&](std::uint64_t at, std::uint16_t type, std::uint16_t code, std::int32_t value) {
    memory.write_object(at, type);
    memory.write_object(at + 2, code);
    memory.write_object(at + 4, value);
  };
  put_event(kStatusBuffers, ev::kEvLed, ev::kLedCapsLock, 1);
  status.write_chain(0, {{kStatusBuffers, 8, false}});
  status.make_available(0);
  transport->notify_queue(1);
  CHECK(input().leds() == 0x02);
  CHECK(status.used_idx() == 1);
  CHECK(status.used_element(0).length == 0);
  CHECK(sink->count(kMsiStatus) == 1);

  // Two events in one buffer, something that is not an LED, a runt.
  put_event(kStatusBuffers + 0x40, ev::kEvLed, ev::kLedNumLock, 1);
  put_event(kStatusBuffers + 0x48, ev::kEvLed, ev::kLedCapsLock, 0);
  put_event(kStatusBuffers + 0x80, 0x12 /* EV_SND */, 1, 1);
  status.write_chain(1, {{kStatusBuffers + 0x40, 16, false}});
  status.write_chain(2, {{kStatusBuffers + 0x80, 8, false}});
  status.write_chain(3, {{kStatusBuffers + 0xc0, 3, false}});
  status.write_chain(4, {{kStatusBuffers + 0xd0, 8, true}});  // writable: nothing to read
  for (std::uint16_t head : {1, 2, 3, 4}) status.make_available(head);
  transport->notify_queue(1);
  CHECK(input().leds() == 0x01);
  CHECK(status.used_idx() == 5);
  CHECK(input().stats().status_events == 4);
  CHECK((driver.status() & kStatusNeedsReset) == 0);
}

TEST_CASE("virtio-input tablet: pixel positions on the absolute axis") {
  CHECK(scale_to_abs(0, 800, 32767) == 0);
  CHECK(scale_to_abs(799, 800, 32767) == 32767);
  CHECK(scale_to_abs(400, 801, 32767) == 16384);  // the centre pixel, the centre of the axis
  CHECK(scale_to_abs(-10, 800, 32767) == 0);
  CHECK(scale_to_abs(5000, 800, 32767) == 32767);
  CHECK(scale_to_abs(3, 0, 32767) == 0);
  CHECK(scale_to_abs(3, 1, 32767) == 0);
  CHECK(scale_to_abs(INT64_MAX, 4096, 32767) == 32767);
  CHECK(scale_to_abs(INT64_MIN, 4096, 32767) == 0);
  // Monotonic and one-to-one while the display is narrower than the axis.
  std::int32_t previous = -1;
  for (std::int64_t x = 0; x < 1920; ++x) {
    const std::int32_t value = scale_to_abs(x, 1920, 32767);
    CHECK(value > previous);
    previous = value;
  }
}

TEST_CASE_FIXTURE(TabletFixture, "virtio-input tablet: move_to scales with the display size") {
  bring_up();
  post_event_buffers(kEventRingSize);
  input().set_display_size(800, 600);
  CHECK(input().move_to(799, 0));
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvAbs, ev::kAbsX, 32767}, {ev::kEvAbs, ev::kAbsY, 0}, kSyn});
  input().set_display_size(1920, 1080);
  CHECK(input().move_to(-3, 5000));  // clamped to the display
  CHECK(collect() == std::vector<InputEvent>{{ev::kEvAbs, ev::kAbsX, 0}, {ev::kEvAbs, ev::kAbsY, 32767}, kSyn});
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: reset forgets pending events; state round-trips") {
  bring_up();
  CHECK(inject_key(30, true));  // waits: no buffers
  driver.set_status(0);
  CHECK_FALSE(input().active());
  bring_up();
  post_event_buffers(4);
  CHECK(events.used_idx() == 0);  // the stale key never reached the new driver

  input().set_display_size(640, 480);
  select(ia::kCfgEvBits, ev::kEvKey);
  const VirtioInputState saved = input().save();
  CHECK(saved.select == ia::kCfgEvBits);
  CHECK(saved.subsel == ev::kEvKey);
  CHECK(saved.display_width == 640);

  VirtioInput copy(InputDeviceKind::Keyboard);
  copy.restore(VirtioInputState{ia::kCfgIdName, 0, 0x05, 1280, 720});
  CHECK(copy.leds() == 0x05);
  std::array<std::uint8_t, 3> header{};
  copy.read_config(0, header);
  CHECK(header == std::array<std::uint8_t, 3>{ia::kCfgIdName, 0, 16});
  const VirtioInputState again = copy.save();
  CHECK(again.display_width == 1280);
  CHECK(again.display_height == 720);
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: injection from another thread") {
  bring_up();
  post_event_buffers(kEventRingSize);
  std::thread ui([&] {
    for (int i = 0; i < 8; ++i) CHECK(inject_key(30, i % 2 == 0));
  });
  ui.join();
  const std::vector<InputEvent> got = collect();
  REQUIRE(got.size() == 16);
  for (std::size_t i = 0; i < got.size(); i += 2) {
    CHECK(got[i] == InputEvent{ev::kEvKey, 30, (i / 2) % 2 == 0 ? 1 : 0});
    CHECK(got[i + 1] == kSyn);
  }
}

TEST_CASE_FIXTURE(KeyboardFixture, "virtio-input: random rings and injections do not crash the device") {
  std::mt19937 random(20240917);
  auto pick = [&](std::uint32_t below) { return static_cast<std::uint32_t>(random() % below); };
  int bring_ups = 0;
  for (int round = 0; round < 400; ++round) {
    if ((driver.status() & kStatusDriverOk) == 0 || (driver.status() & kStatusNeedsReset) != 0) {
      driver.set_status(0);
      std::fill_n(memory.span(0x1000, 0x2000).begin(), 0x2000, std::uint8_t{0});
      bring_up();
      ++bring_ups;
    }
    test::VirtqueueBuilder& ring = pick(3) == 0 ? status : events;
    const std::uint16_t size = &ring == &events ? kEventRingSize : 8;
    for (std::uint32_t n = pick(4); n-- > 0;) {
      const auto index = static_cast<std::uint16_t>(pick(size + 2));  // sometimes out of the table
      const std::uint64_t address =
          pick(10) == 0 ? test::kFakeRamSize - pick(16) : 0x8000 + pick(0x10000);
      const std::uint32_t length = pick(5) == 0 ? pick(0x100000) : pick(24);
      const auto flags = static_cast<std::uint16_t>(pick(8));  // NEXT, WRITE, INDIRECT
      ring.set_descriptor(static_cast<std::uint16_t>(index % size), address, length, flags,
                          static_cast<std::uint16_t>(pick(size + 2)));
      if (pick(2) == 0) ring.make_available(static_cast<std::uint16_t>(pick(size + 2)));
    }
    if (pick(20) == 0) ring.set_avail_idx(static_cast<std::uint16_t>(ring.avail_idx() + pick(40)));
    transport->notify_queue(&ring == &events ? 0 : 1);
    std::vector<InputEvent> batch(pick(6));
    for (InputEvent& e : batch) {
      e = InputEvent{static_cast<std::uint16_t>(pick(4)), static_cast<std::uint16_t>(pick(300)),
                     static_cast<std::int32_t>(random())};
    }
    input().inject(batch);
  }
  const VirtioInputStats stats = input().stats();
  MESSAGE("fuzz: bring-ups " << bring_ups << ", delivered " << stats.events_delivered
                             << ", rejected " << stats.buffers_rejected << ", dropped "
                             << stats.batches_dropped);
  CHECK(bring_ups >= 1);
}
