#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bus/pci/msi_sink.h"
#include "bus/pci/pci_function.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/net/virtio_net_abi.h"
#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "devices/virtio/virtio_abi.h"
#include "support/fake_guest_memory.h"
#include "support/fake_interrupt_line.h"
#include "support/virtio_pci_driver.h"
#include "support/virtqueue_builder.h"
#include "support/recording_msi_sink.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::virtio;
namespace t = nestbox::virtio::pci_transport;
namespace a = nestbox::virtio::net_abi;
using test::QueueLayout;
using Bytes = std::vector<std::uint8_t>;

namespace {

class NullMapper : public pci::PciBarMapper {
 public:
  void map_bar(const pci::PciBarMapping&) override {}
  void unmap_bar(const pci::PciBarMapping&) override {}
};

// A backend that records what the NIC sends and lets the test play the
// network: push() calls the sink the NIC installed, as libslirp would.
class FakeBackend : public net::NetBackend {
 public:
  void set_frame_sink(net::FrameSink new_sink) override {
    sink = std::move(new_sink);
    ++sink_changes;
  }
  void send_to_network(std::span<const std::uint8_t> frame) override {
    sent.emplace_back(frame.begin(), frame.end());
  }
  void set_link_up(bool up) override { link = up; }
  [[nodiscard]] bool link_up() const override { return link; }
  [[nodiscard]] net::NetStats stats() const override { return {}; }
  net::NetBackendState save() override { return {}; }
  net::RestoreOutcome restore(const net::NetBackendState&) override { return net::RestoreOutcome::Restored; }
  net::PollPlan prepare_poll() override { return {}; }
  void process(std::span<const net::PollReady>, net::PollClock::time_point) override {}
  void set_interest_listener(std::function<void()>) override {}

  bool push(const Bytes& frame) { return sink ? sink(frame) : false; }

  net::FrameSink sink;
  int sink_changes = 0;
  std::vector<Bytes> sent;
  bool link = true;
};

// The machine's I/O thread, played by the test: tasks wait until run()
// (so a test sees that nothing reached the backend before), or run inline.
struct IoQueue {
  std::deque<std::function<void()>> tasks;
  bool run_inline = false;

  IoExecutor executor() {
    return [this](std::function<void()> task) {
      if (run_inline) {
        task();
      } else {
        tasks.push_back(std::move(task));
      }
    };
  }
  void run() {
    while (!tasks.empty()) {
      std::function<void()> task = std::move(tasks.front());
      tasks.pop_front();
      task();
    }
  }
};

Bytes make_frame(std::size_t size, std::uint8_t seed) {
  Bytes frame(size);
  for (std::size_t i = 0; i < size; ++i) frame[i] = static_cast<std::uint8_t>(seed + i * 7);
  return frame;
}

Bytes header_bytes(const a::NetHeader& header) {
  Bytes bytes(sizeof header);
  std::memcpy(bytes.data(), &header, sizeof header);
  return bytes;
}

constexpr net::MacAddress kMac{{0x02, 0x4e, 0x42, 0x11, 0x22, 0x33}};
constexpr std::uint64_t kRxData = 0x10000;  // receive buffers from here
constexpr std::uint64_t kTxData = 0x40000;  // transmit buffers from here
constexpr std::uint64_t kBigData = 0x80000;  // one buffer large enough for any frame
constexpr std::uint32_t kMsiRx = 0x50;
constexpr std::uint32_t kMsiTx = 0x51;
constexpr std::uint32_t kMsiConfig = 0x52;

struct NetFixture {
  GuestMemory memory = test::make_guest_memory();
  IoQueue io;
  FakeBackend backend;
  std::shared_ptr<test::RecordingMsiSink> msi = std::make_shared<test::RecordingMsiSink>();
  std::shared_ptr<test::FakeInterruptLine> intx = std::make_shared<test::FakeInterruptLine>();
  NullMapper mapper;
  std::vector<std::string> log;
  VirtioNet* net = nullptr;
  std::shared_ptr<VirtioPciDevice> transport = make();
  test::VirtioPciDriver driver{*transport};
  QueueLayout rx_layout = QueueLayout::contiguous(0x1000, 16);
  QueueLayout tx_layout = QueueLayout::contiguous(0x2000, 32);
  test::VirtqueueBuilder rx{memory, rx_layout};
  test::VirtqueueBuilder tx{memory, tx_layout};

  std::shared_ptr<VirtioPciDevice> make() {
    auto device = std::make_unique<VirtioNet>(backend, kMac, io.executor(),
                                              [this](std::string_view line) { log.emplace_back(line); });
    net = device.get();
    auto pci = std::make_shared<VirtioPciDevice>(std::move(device), memory, msi,
                                                 [this](std::string_view line) { log.emplace_back(line); });
    pci->connect(pci::PciAddress{0, 1, 0}, &mapper, intx);
    return pci;
  }

  void bring_up(std::uint64_t features) {
    driver.enable_msix(3, 0xfee0'0000, kMsiRx);
    REQUIRE((driver.negotiate(kFeatureVersion1 | features) & kStatusFeaturesOk) != 0);
    driver.write<std::uint16_t>(t::kConfigMsixVector, 2);
    driver.setup_queue(0, rx_layout, 0);
    driver.setup_queue(1, tx_layout, 1);
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    REQUIRE((driver.status() & kStatusDriverOk) != 0);
    io.run();  // the I/O thread installs the sink
    REQUIRE(backend.sink);
  }
  bool needs_reset() { return (driver.status() & kStatusNeedsReset) != 0; }

  // Header and frame at `address`, as one descriptor or two.
  void queue_tx(std::uint16_t first, std::uint64_t address, const Bytes& frame,
                a::NetHeader header = {}, bool split = true) {
    memory.write(address, header_bytes(header));
    memory.write(address + a::kHeaderSize, frame);
    const auto size = static_cast<std::uint32_t>(frame.size());
    if (split) {
      tx.write_chain(first, {{address, a::kHeaderSize, false}, {address + a::kHeaderSize, size, false}});
    } else {
      tx.write_chain(first, {{address, a::kHeaderSize + size, false}});
    }
    tx.make_available(first);
  }
  void post_rx(std::uint16_t index, std::uint64_t address, std::uint32_t length) {
    rx.write_chain(index, {{address, length, true}});
    rx.make_available(index);
  }
  Bytes read(std::uint64_t address, std::size_t length) const {
    Bytes bytes(length);
    memory.read(address, bytes);
    return bytes;
  }
  a::NetHeader rx_header(std::uint64_t address) const { return memory.read_object<a::NetHeader>(address); }
  std::uint8_t config_byte(std::uint32_t offset) {
    return driver.read<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset + offset);
  }
  std::uint16_t config_u16(std::uint32_t offset) {
    return driver.read<std::uint16_t>(VirtioPciDevice::kDeviceCfgOffset + offset);
  }
};

}  // namespace

TEST_CASE_FIXTURE(NetFixture, "virtio-net: identity, features and the configuration space") {
  CHECK(net->device_type() == kDeviceTypeNet);
  const std::uint64_t offered = driver.device_features();
  CHECK((offered & a::kFeatureMac) != 0);
  CHECK((offered & a::kFeatureStatus) != 0);
  CHECK((offered & a::kFeatureMrgRxbuf) != 0);
  CHECK((offered & a::kFeatureMtu) != 0);
  CHECK((offered & (a::kFeatureCsum | a::kFeatureGuestCsum)) == 0);  // no offloads
  CHECK(driver.read<std::uint16_t>(t::kNumQueues) == 2);
  driver.write<std::uint16_t>(t::kQueueSelect, 1);
  CHECK(driver.read<std::uint16_t>(t::kQueueSize) == 256);

  for (std::uint32_t i = 0; i < 6; ++i) CHECK(config_byte(i) == kMac.bytes[i]);
  CHECK(config_u16(a::kConfigStatusOffset) == a::kStatusLinkUp);
  CHECK(config_u16(a::kConfigMaxVirtqueuePairsOffset) == 1);
  CHECK(config_u16(a::kConfigMtuOffset) == 1500);
  CHECK(driver.read<std::uint32_t>(VirtioPciDevice::kDeviceCfgOffset + 12) == 0);  // past the end
  driver.write<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset, 0xee);  // read-only
  CHECK(config_byte(0) == kMac.bytes[0]);
  CHECK(net->mac() == kMac);
  CHECK_FALSE(backend.sink);  // nothing installed before DRIVER_OK

  CHECK(test::expect_error([&] { VirtioNet bad(backend, kMac, IoExecutor{}); }).code ==
        ErrorCode::InvalidConfig);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: one transmitted frame reaches the backend byte-exact, on the I/O thread") {
  bring_up(a::kFeatureMac | a::kFeatureStatus | kFeatureIndirectDesc);
  const Bytes frame = make_frame(60, 1);
  queue_tx(0, kTxData, frame);
  transport->notify_queue(1);
  CHECK(tx.used_idx() == 1);
  CHECK(tx.used_element(0).id == 0);
  CHECK(tx.used_element(0).length == 0);
  CHECK(msi->count(kMsiTx) == 1);
  CHECK(backend.sent.empty());  // never from the transport's thread
  REQUIRE(io.tasks.size() == 1);
  io.run();
  REQUIRE(backend.sent.size() == 1);
  CHECK(backend.sent[0] == frame);
  CHECK(net->stats().tx_frames == 1);
  CHECK(net->stats().tx_bytes == 60);

  // Header and frame in one descriptor, through an indirect table.
  const Bytes second = make_frame(1514, 9);
  memory.write(kTxData + 0x1000, header_bytes({}));
  memory.write(kTxData + 0x1000 + a::kHeaderSize, second);
  tx.write_indirect_chain(5, kTxData + 0x3000,
                          {{kTxData + 0x1000, 6, false}, {kTxData + 0x1006, 6 + 1514, false}});
  tx.make_available(5);
  transport->notify_queue(1);
  io.run();
  REQUIRE(backend.sent.size() == 2);
  CHECK(backend.sent[1] == second);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: many transmitted frames go out in order, in one batch") {
  bring_up(a::kFeatureMac);
  std::vector<Bytes> frames;
  for (std::uint16_t i = 0; i < 12; ++i) {
    frames.push_back(make_frame(14 + i * 100, static_cast<std::uint8_t>(i)));
    queue_tx(static_cast<std::uint16_t>(2 * i), kTxData + 0x1000ull * i, frames.back(), {}, i % 2 == 0);
  }
  transport->notify_queue(1);
  CHECK(tx.used_idx() == 12);
  CHECK(msi->count(kMsiTx) == 1);  // one interrupt for the batch
  CHECK(io.tasks.size() == 1);      // one task for the batch
  io.run();
  CHECK(backend.sent == frames);
  CHECK(net->stats().tx_frames == 12);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: received frames land as header + frame, one buffer each") {
  bring_up(a::kFeatureMac);  // no MRG_RXBUF: num_buffers is 1
  post_rx(0, kRxData, 2048);
  // The header in its own descriptor, the frame in a second one.
  rx.write_chain(1, {{kRxData + 0x1000, a::kHeaderSize, true}, {kRxData + 0x1100, 2048, true}});
  rx.make_available(1);

  const Bytes first = make_frame(42, 3);
  CHECK(backend.push(first));
  CHECK(rx.used_idx() == 1);
  CHECK(rx.used_element(0).id == 0);
  CHECK(rx.used_element(0).length == a::kHeaderSize + 42);
  const a::NetHeader header = rx_header(kRxData);
  CHECK(header.flags == 0);
  CHECK(header.gso_type == a::kGsoNone);
  CHECK(header.num_buffers == 1);
  CHECK(read(kRxData + a::kHeaderSize, 42) == first);
  CHECK(msi->count(kMsiRx) == 1);

  const Bytes second = make_frame(1514, 4);
  CHECK(backend.push(second));
  CHECK(rx.used_element(1).id == 1);
  CHECK(rx.used_element(1).length == a::kHeaderSize + 1514);
  CHECK(rx_header(kRxData + 0x1000).num_buffers == 1);
  CHECK(read(kRxData + 0x1100, 1514) == second);
  CHECK(net->stats().rx_frames == 2);
  CHECK(net->stats().rx_bytes == 42 + 1514);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: with MRG_RXBUF a frame spans several receive buffers") {
  bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf);
  for (std::uint16_t i = 0; i < 4; ++i) post_rx(i, kRxData + 0x1000ull * i, 256);
  const Bytes frame = make_frame(600, 5);  // 612 with the header: 256 + 256 + 100
  CHECK(backend.push(frame));
  REQUIRE(rx.used_idx() == 3);
  CHECK(rx.used_element(0).length == 256);
  CHECK(rx.used_element(1).length == 256);
  CHECK(rx.used_element(2).length == 100);
  CHECK(rx_header(kRxData).num_buffers == 3);
  Bytes received = read(kRxData + a::kHeaderSize, 256 - a::kHeaderSize);
  const Bytes middle = read(kRxData + 0x1000, 256);
  const Bytes last = read(kRxData + 0x2000, 100);
  received.insert(received.end(), middle.begin(), middle.end());
  received.insert(received.end(), last.begin(), last.end());
  CHECK(received == frame);
  CHECK(msi->count(kMsiRx) == 1);

  // The fourth buffer is still the driver's and takes the next frame.
  CHECK(backend.push(make_frame(60, 6)));
  CHECK(rx.used_element(3).id == 3);
  CHECK(rx_header(kRxData + 0x3000).num_buffers == 1);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: frames without receive buffers wait in a bounded backlog") {
  bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf);
  std::vector<Bytes> frames;
  for (std::size_t i = 0; i < VirtioNet::kBacklogFrames; ++i) {
    frames.push_back(make_frame(60, static_cast<std::uint8_t>(i)));
    CHECK(backend.push(frames.back()));
  }
  CHECK_FALSE(backend.push(make_frame(60, 0xaa)));  // the backlog is full: dropped
  CHECK(net->stats().rx_dropped == 1);
  CHECK(rx.used_idx() == 0);

  // The driver posts buffers: the oldest frames go first, one per buffer.
  for (std::uint16_t i = 0; i < 16; ++i) post_rx(i, kRxData + 0x800ull * i, 0x800);
  transport->notify_queue(0);
  REQUIRE(rx.used_idx() == 16);
  for (std::uint16_t i = 0; i < 16; ++i) {
    CHECK(read(kRxData + 0x800ull * i + a::kHeaderSize, 60) == frames[i]);
  }
  CHECK(msi->count(kMsiRx) == 1);
  // A new frame queues behind the 48 still waiting, never overtaking them.
  CHECK(backend.push(make_frame(60, 0xbb)));
  CHECK(rx.used_idx() == 16);
  CHECK(net->stats().rx_frames == 16);

  // A reset forgets the backlog; those frames count as dropped.
  driver.set_status(0);
  CHECK(net->stats().rx_dropped == 1 + 49);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: frames the buffers cannot hold are dropped, never overflow") {
  SUBCASE("one chain without MRG_RXBUF") {
    bring_up(a::kFeatureMac);
    std::fill_n(memory.span(kRxData, 0x200).begin(), 0x200, std::uint8_t{0xcc});
    post_rx(0, kRxData, 100);
    CHECK_FALSE(backend.push(make_frame(200, 1)));
    CHECK(rx.used_idx() == 0);  // the buffer stays with the driver
    CHECK(memory.read_object<std::uint8_t>(kRxData + 100) == 0xcc);
    CHECK(net->stats().rx_dropped == 1);
    const Bytes small = make_frame(80, 2);
    CHECK(backend.push(small));
    CHECK(rx.used_element(0).id == 0);
    CHECK(rx.used_element(0).length == 92);
    CHECK(read(kRxData + a::kHeaderSize, 80) == small);
  }
  SUBCASE("the whole ring with MRG_RXBUF") {
    bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf);
    for (std::uint16_t i = 0; i < 16; ++i) post_rx(i, kRxData + 0x100ull * i, 64);
    CHECK_FALSE(backend.push(make_frame(1500, 1)));  // 16 x 64 < 1512: never fits
    CHECK(rx.used_idx() == 0);
    CHECK(backend.push(make_frame(100, 2)));  // and does not block the next frame
    CHECK(rx.used_idx() == 2);
  }
  SUBCASE("frames above the negotiated MTU, and runts") {
    bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf | a::kFeatureMtu);
    memory.write(kBigData, Bytes(0x2000, 0));
    post_rx(0, kBigData, 0x2000);
    CHECK_FALSE(backend.push(make_frame(1600, 1)));
    CHECK_FALSE(backend.push(make_frame(10, 1)));
    CHECK(backend.push(make_frame(1518, 1)));  // 1500 + Ethernet + VLAN tag
    CHECK(net->stats().rx_dropped == 2);
  }
  SUBCASE("without MTU negotiated larger frames pass") {
    bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf);
    post_rx(0, kBigData, 0x2000);
    CHECK(backend.push(make_frame(4000, 1)));
  }
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: malformed transmit frames are dropped and returned, the queue goes on") {
  bring_up(a::kFeatureMac);
  queue_tx(0, kTxData, make_frame(10, 1));           // runt: 10 bytes of Ethernet
  memory.write(kTxData + 0x1000, Bytes(8, 0));
  tx.write_chain(2, {{kTxData + 0x1000, 8, false}});  // not even a header
  tx.make_available(2);
  queue_tx(3, kBigData, make_frame(a::kMaxFrameSize + 1, 2), {}, false);  // oversized
  a::NetHeader csum{};
  csum.flags = a::kHeaderFlagNeedsCsum;
  queue_tx(4, kTxData + 0x2000, make_frame(60, 3), csum);  // an offload we did not offer
  a::NetHeader gso{};
  gso.gso_type = 1;  // TCPv4
  queue_tx(6, kTxData + 0x3000, make_frame(60, 4), gso);
  // Device-writable buffers in a transmit chain.
  memory.write(kTxData + 0x4000, header_bytes({}));
  tx.write_chain(8, {{kTxData + 0x4000, a::kHeaderSize + 60, false}, {kTxData + 0x5000, 64, true}});
  tx.make_available(8);
  const Bytes good = make_frame(a::kMaxFrameSize, 5);  // the largest frame we take
  queue_tx(10, kBigData + 0x20000, good);

  transport->notify_queue(1);
  CHECK_FALSE(needs_reset());
  REQUIRE(tx.used_idx() == 7);
  for (std::uint16_t i = 0; i < 7; ++i) CHECK(tx.used_element(i).length == 0);
  io.run();
  REQUIRE(backend.sent.size() == 1);
  CHECK(backend.sent[0] == good);
  CHECK(net->stats().tx_dropped == 6);
  CHECK(net->stats().guest_errors == 6);
  CHECK(net->stats().tx_frames == 1);
  CHECK_FALSE(log.empty());
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: a receive chain with readable buffers is returned empty, the frame dropped") {
  bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf);
  rx.write_chain(0, {{kRxData, 64, false}, {kRxData + 0x100, 2048, true}});
  rx.make_available(0);
  post_rx(2, kRxData + 0x1000, 8);  // smaller than the header
  post_rx(3, kRxData + 0x2000, 2048);
  CHECK_FALSE(backend.push(make_frame(60, 1)));
  CHECK_FALSE(backend.push(make_frame(60, 2)));
  const Bytes good = make_frame(60, 3);
  CHECK(backend.push(good));
  REQUIRE(rx.used_idx() == 3);
  CHECK(rx.used_element(0).length == 0);
  CHECK(rx.used_element(1).length == 0);
  CHECK(rx.used_element(2).id == 3);
  CHECK(read(kRxData + 0x2000 + a::kHeaderSize, 60) == good);
  CHECK_FALSE(needs_reset());
  CHECK(net->stats().guest_errors == 2);
  CHECK(net->stats().rx_dropped == 2);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: link state follows the backend and set_link_up, with config interrupts") {
  backend.link = false;  // cable out when the driver starts
  bring_up(a::kFeatureMac | a::kFeatureStatus);
  CHECK(config_u16(a::kConfigStatusOffset) == 0);
  CHECK(msi->count(kMsiConfig) == 1);
  CHECK_FALSE(net->link_up());

  const auto generation = driver.read<std::uint8_t>(t::kConfigGeneration);
  net->set_link_up(true);
  CHECK(config_u16(a::kConfigStatusOffset) == a::kStatusLinkUp);
  CHECK(msi->count(kMsiConfig) == 2);
  CHECK(driver.read<std::uint8_t>(t::kConfigGeneration) == static_cast<std::uint8_t>(generation + 1));
  net->set_link_up(true);  // no change, no interrupt
  CHECK(msi->count(kMsiConfig) == 2);

  net->set_link_up(false);
  CHECK(config_u16(a::kConfigStatusOffset) == 0);
  CHECK(msi->count(kMsiConfig) == 3);
  // Unplugged: nothing goes either way.
  post_rx(0, kRxData, 2048);
  CHECK_FALSE(backend.push(make_frame(60, 1)));
  CHECK(rx.used_idx() == 0);
  queue_tx(0, kTxData, make_frame(60, 2));
  transport->notify_queue(1);
  io.run();
  CHECK(tx.used_idx() == 1);
  CHECK(backend.sent.empty());
  CHECK(net->stats().tx_dropped == 1);
  CHECK(net->stats().guest_errors == 0);

  net->set_link_up(true);
  CHECK(backend.push(make_frame(60, 3)));
  CHECK(rx.used_idx() == 1);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: link changes before activation raise nothing; save and restore") {
  net->set_link_up(false);
  CHECK(msi->sent.empty());
  CHECK_FALSE(intx->level);
  CHECK(config_u16(a::kConfigStatusOffset) == 0);
  net->set_link_up(true);

  bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf);
  post_rx(0, kRxData, 2048);
  CHECK(backend.push(make_frame(100, 1)));
  queue_tx(0, kTxData, make_frame(60, 2));
  transport->notify_queue(1);
  io.run();
  net->set_link_up(false);

  const VirtioNetState saved = net->save();
  CHECK_FALSE(saved.link_up);
  CHECK(saved.stats.rx_frames == 1);
  CHECK(saved.stats.rx_bytes == 100);
  CHECK(saved.stats.tx_frames == 1);

  FakeBackend other_backend;
  IoQueue other_io;
  VirtioNet copy(other_backend, kMac, other_io.executor());
  copy.restore(saved);
  CHECK_FALSE(copy.link_up());
  CHECK(copy.stats().rx_frames == 1);
  CHECK(copy.stats().tx_bytes == 60);
  CHECK(copy.save().stats.tx_frames == saved.stats.tx_frames);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: a frame arriving after reset or teardown is dropped safely") {
  bring_up(a::kFeatureMac);
  post_rx(0, kRxData, 2048);
  const net::FrameSink stale = backend.sink;  // what the backend may still hold

  driver.set_status(0);  // the driver resets the device
  CHECK_FALSE(stale(make_frame(60, 1)));  // before the I/O thread removed it
  io.run();
  CHECK_FALSE(backend.sink);
  CHECK_FALSE(backend.push(make_frame(60, 2)));
  CHECK(rx.used_idx() == 0);

  // Re-initialised: the new sink works, the stale one still refuses.
  rx.set_avail_idx(0);
  memory.write(rx_layout.used_ring, Bytes(4, 0));
  bring_up(a::kFeatureMac);
  post_rx(0, kRxData, 2048);
  CHECK_FALSE(stale(make_frame(60, 3)));
  CHECK(backend.push(make_frame(60, 4)));
  CHECK(rx.used_idx() == 1);

  // The whole device goes away while the backend still holds its sink.
  const net::FrameSink current = backend.sink;
  transport.reset();
  CHECK_FALSE(current(make_frame(60, 5)));
  CHECK_FALSE(stale(make_frame(60, 6)));
  io.run();
  CHECK_FALSE(backend.sink);
  CHECK_FALSE(current(make_frame(60, 7)));
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: a device destroyed before the I/O thread ran its tasks") {
  bring_up(a::kFeatureMac);
  queue_tx(0, kTxData, make_frame(60, 1));
  transport->notify_queue(1);  // posts the transmit batch
  memory.write(0x1000, Bytes(0x2000, 0));  // fresh rings for the second activation
  REQUIRE((driver.negotiate(kFeatureVersion1 | a::kFeatureMac) & kStatusFeaturesOk) != 0);  // posts the sink's removal
  driver.setup_queue(0, rx_layout, 0);
  driver.setup_queue(1, tx_layout, 1);
  driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);  // posts a new sink
  transport.reset();  // resets (posts a removal) and destroys the device
  REQUIRE(io.tasks.size() == 4);
  io.run();  // all of it after the device is gone
  CHECK(backend.sent.size() == 1);
  CHECK_FALSE(backend.sink);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: transmit stops at the in-flight budget and resumes when the I/O thread catches up") {
  bring_up(a::kFeatureMac);
  // 32 maximal frames (2 MiB) from one guest buffer: more than kTxInFlightBytes.
  const Bytes frame = make_frame(a::kMaxFrameSize, 7);
  memory.write(kBigData, header_bytes({}));
  memory.write(kBigData + a::kHeaderSize, frame);
  for (std::uint16_t i = 0; i < 32; ++i) {
    tx.write_chain(i, {{kBigData, a::kHeaderSize + a::kMaxFrameSize, false}});
    tx.make_available(i);
  }
  transport->notify_queue(1);
  const std::uint16_t first_pass = tx.used_idx();
  CHECK(first_pass > 0);
  CHECK(first_pass < 32);  // the rest wait in the ring
  CHECK(std::uint64_t{first_pass} * a::kMaxFrameSize <= VirtioNet::kTxInFlightBytes + a::kMaxFrameSize);
  transport->notify_queue(1);  // a kick while over budget takes nothing more
  CHECK(tx.used_idx() == first_pass);
  io.run();  // sends, and the completion resumes the queue
  CHECK(tx.used_idx() == 32);
  CHECK(backend.sent.size() == 32);
  CHECK(backend.sent.back() == frame);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: an inline I/O executor works, including the stall path") {
  io.run_inline = true;
  bring_up(a::kFeatureMac | a::kFeatureMrgRxbuf);
  const Bytes frame = make_frame(a::kMaxFrameSize, 8);
  memory.write(kBigData, header_bytes({}));
  memory.write(kBigData + a::kHeaderSize, frame);
  for (std::uint16_t i = 0; i < 32; ++i) {
    tx.write_chain(i, {{kBigData, a::kHeaderSize + a::kMaxFrameSize, false}});
    tx.make_available(i);
  }
  transport->notify_queue(1);
  CHECK(tx.used_idx() == 32);
  CHECK(backend.sent.size() == 32);
  post_rx(0, kRxData, 2048);
  CHECK(backend.push(make_frame(60, 1)));
  CHECK(rx.used_idx() == 1);
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: a broken ring means NEEDS_RESET, never a crash") {
  bring_up(a::kFeatureMac);
  tx.set_descriptor(0, test::kFakeRamSize - 4, 64, 0);  // outside RAM
  tx.make_available(0);
  transport->notify_queue(1);
  CHECK(needs_reset());
  CHECK(msi->count(kMsiConfig) == 1);
  CHECK_FALSE(backend.push(make_frame(60, 1)));  // and the sink refuses
  io.run();
}

TEST_CASE_FIXTURE(NetFixture, "virtio-net: random descriptor tables and rings do not crash the device") {
  std::mt19937 random(20240601);
  const auto pick = [&](std::uint32_t bound) { return std::uniform_int_distribution<std::uint32_t>(0, bound - 1)(random); };
  int resets = 0;
  for (int round = 0; round < 300; ++round) {
    io.run_inline = round % 2 == 0;
    if (round % 20 == 0 || needs_reset()) {
      memory.write(0x1000, Bytes(0x2000, 0));  // fresh rings
      bring_up(a::kFeatureMac | a::kFeatureStatus | (round % 40 == 0 ? 0 : a::kFeatureMrgRxbuf) |
               (pick(2) != 0 ? kFeatureEventIdx : 0) | (pick(2) != 0 ? kFeatureIndirectDesc : 0));
      ++resets;
    }
    for (test::VirtqueueBuilder* ring : {&rx, &tx}) {
      const bool receive = ring == &rx;
      const std::uint16_t size = ring->layout().size;
      const int chains = static_cast<int>(pick(4));
      for (int n = 0; n < chains; ++n) {
        const auto head = static_cast<std::uint16_t>(pick(size - 3));
        if (pick(4) == 0) {
          // Garbage: any address, length, flags and next.
          for (std::uint16_t i = 0; i < 3; ++i) {
            const std::uint64_t address =
                pick(4) == 0 ? (std::uint64_t{pick(0xffffffff)} << pick(24)) : kRxData + pick(0xe0000);
            const std::uint32_t length = pick(4) == 0 ? pick(0xffffffff) : pick(0x1000);
            ring->set_descriptor(static_cast<std::uint16_t>(head + i), address, length,
                                 static_cast<std::uint16_t>(pick(8)), static_cast<std::uint16_t>(pick(size + 2)));
          }
        } else {
          // Plausible, with the odd wrong direction or tiny buffer.
          std::vector<test::BufferSpec> buffers;
          const std::uint32_t count = 1 + pick(3);
          for (std::uint32_t i = 0; i < count; ++i) {
            buffers.push_back({kRxData + pick(0xd0000), pick(4) == 0 ? pick(16) : pick(0x800),
                               pick(8) == 0 ? !receive : receive});
          }
          ring->write_chain(head, buffers);
        }
        ring->make_available(pick(16) == 0 ? static_cast<std::uint16_t>(pick(size + 1)) : head);
      }
      if (pick(32) == 0) ring->set_avail_idx(static_cast<std::uint16_t>(pick(0x10000)));
    }
    transport->notify_queue(static_cast<std::uint16_t>(pick(2)));
    transport->notify_queue(1);
    for (int n = 0; n < 3; ++n) {
      (void)backend.push(make_frame(14 + pick(3000), static_cast<std::uint8_t>(round)));
    }
    if (pick(10) == 0) net->set_link_up(pick(2) != 0);
    io.run();
  }
  net->set_link_up(true);
  CHECK(resets > 0);
  const net::NetStats stats = net->stats();
  MESSAGE("fuzz: tx " << stats.tx_frames << " sent / " << stats.tx_dropped << " dropped, rx "
                      << stats.rx_frames << " / " << stats.rx_dropped << ", guest errors "
                      << stats.guest_errors << ", bring-ups " << resets);
}

namespace {

// A real I/O thread: runs posted tasks in order and, when idle, plays the
// network by pushing frames into whatever sink the NIC installed.
class ThreadedIo {
 public:
  explicit ThreadedIo(FakeBackend& backend) : backend_(backend), thread_([this] { loop(); }) {}
  ~ThreadedIo() { stop(); }
  IoExecutor executor() {
    return [this](std::function<void()> task) {
      {
        const std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
      }
      wake_.notify_one();
    };
  }
  void stop() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<std::uint64_t> pushed{0};
  std::atomic<std::uint64_t> taken{0};

 private:
  void loop() {
    std::uint8_t seed = 0;
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::microseconds(50), [&] { return stopping_ || !tasks_.empty(); });
        if (stopping_) return;
        if (!tasks_.empty()) {
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
      }
      if (task) task();
      // Between tasks too, so frames meet transmit completions and resets.
      if (backend_.sink) {
        ++pushed;
        if (backend_.push(make_frame(60 + seed % 200, seed))) ++taken;
        ++seed;
      }
    }
  }

  FakeBackend& backend_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

}  // namespace

TEST_CASE("virtio-net: a vCPU thread and the I/O thread race through traffic, link flaps and resets") {
  GuestMemory memory = test::make_guest_memory();
  FakeBackend backend;
  ThreadedIo io(backend);
  auto msi = std::make_shared<test::RecordingMsiSink>();
  NullMapper mapper;
  auto device = std::make_unique<VirtioNet>(backend, kMac, io.executor());
  VirtioNet* const net = device.get();
  auto transport = std::make_shared<VirtioPciDevice>(std::move(device), memory, msi);
  transport->connect(pci::PciAddress{0, 1, 0}, &mapper, std::make_shared<test::FakeInterruptLine>());
  test::VirtioPciDriver driver{*transport};
  const QueueLayout rx_layout = QueueLayout::contiguous(0x1000, 16);
  const QueueLayout tx_layout = QueueLayout::contiguous(0x2000, 32);
  test::VirtqueueBuilder rx{memory, rx_layout};
  test::VirtqueueBuilder tx{memory, tx_layout};
  driver.enable_msix(3, 0xfee0'0000, kMsiRx);

  for (int round = 0; round < 40; ++round) {
    REQUIRE((driver.negotiate(kFeatureVersion1 | a::kFeatureMac | a::kFeatureStatus |
                              (round % 2 == 0 ? a::kFeatureMrgRxbuf : 0) | kFeatureEventIdx) &
             kStatusFeaturesOk) != 0);
    memory.write(0x1000, Bytes(0x2000, 0));  // reset: the device no longer looks at the rings
    driver.write<std::uint16_t>(t::kConfigMsixVector, 2);
    driver.setup_queue(0, rx_layout, 0);
    driver.setup_queue(1, tx_layout, 1);
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    for (std::uint16_t i = 0; i < 16; ++i) {
      rx.write_chain(i, {{kRxData + 0x800ull * i, 0x800, true}});
      rx.make_available(i);
      transport->notify_queue(0);
    }
    for (std::uint16_t i = 0; i < 32; ++i) {
      const Bytes frame = make_frame(100 + i, static_cast<std::uint8_t>(round));
      const std::uint64_t address = kTxData + 0x1000ull * i;
      memory.write(address, header_bytes({}));
      memory.write(address + a::kHeaderSize, frame);
      tx.write_chain(i, {{address, static_cast<std::uint32_t>(a::kHeaderSize + frame.size()), false}});
      tx.make_available(i);
      transport->notify_queue(1);
      if (i % 8 == 0) net->set_link_up(i % 16 != 0);
      if (i % 4 == 0) std::this_thread::yield();
    }
    net->set_link_up(true);
    CHECK((driver.status() & kStatusNeedsReset) == 0);
  }
  // However the threads were scheduled, the last activation receives.
  for (int wait = 0; wait < 5000 && net->stats().rx_frames == 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const net::NetStats stats = net->stats();
  transport.reset();  // while the I/O thread still runs and pushes
  io.stop();
  CHECK(stats.tx_frames > 0);
  CHECK(stats.rx_frames > 0);
  CHECK(io.taken > 0);
  MESSAGE("threads: " << backend.sent.size() << " frames sent, " << io.taken.load() << " of " << io.pushed.load()
                      << " pushed frames taken");
}
