#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "bus/pci/msi_sink.h"
#include "bus/pci/pci_abi.h"
#include "bus/pci/pci_root_complex.h"
#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "devices/virtio/rng/virtio_rng.h"
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
using test::QueueLayout;

namespace {

class NullMapper : public pci::PciBarMapper {
 public:
  void map_bar(const pci::PciBarMapping&) override {}
  void unmap_bar(const pci::PciBarMapping&) override {}
};

// A device with offered feature bit 0, two queues and 8 bytes of config.
class ToyDevice : public VirtioDevice {
 public:
  std::uint16_t device_type() const override { return 42; }
  std::uint64_t device_features() const override { return 1; }
  std::vector<std::uint16_t> queue_max_sizes() const override { return {64, 8}; }
  std::uint32_t config_size() const override { return 8; }
  void read_config(std::uint32_t offset, std::span<std::uint8_t> data) override {
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = config[offset + i];
  }
  void write_config(std::uint32_t offset, std::span<const std::uint8_t> data) override {
    for (std::size_t i = 0; i < data.size(); ++i) config[offset + i] = data[i];
  }
  void activate(const VirtioDeviceContext& context) override {
    ++activations;
    features = context.features;
    this->context = context;
  }
  void process_queue(std::uint16_t queue) override {
    ++processed;
    // Drain like a real device so malformed chains surface.
    bool used = false;
    while (auto chain = context.queues[queue].pop(*context.memory)) {
      context.queues[queue].add_used(*context.memory, chain->head, 0);
      used = true;
    }
    if (used && context.queues[queue].needs_notification(*context.memory)) {
      context.interrupt->signal_used_queue(queue);
    }
  }
  void reset() override { ++resets; }

  std::array<std::uint8_t, 8> config{1, 2, 3, 4, 5, 6, 7, 8};
  VirtioDeviceContext context;
  int activations = 0;
  int processed = 0;
  int resets = 0;
  std::uint64_t features = 0;
};

struct TransportFixture {
  GuestMemory memory = test::make_guest_memory();
  std::shared_ptr<test::RecordingMsiSink> sink = std::make_shared<test::RecordingMsiSink>();
  std::array<std::shared_ptr<test::FakeInterruptLine>, 4> lines{
      std::make_shared<test::FakeInterruptLine>(), std::make_shared<test::FakeInterruptLine>(),
      std::make_shared<test::FakeInterruptLine>(), std::make_shared<test::FakeInterruptLine>()};
  NullMapper mapper;
  pci::PciRootComplex root{mapper, {lines[0], lines[1], lines[2], lines[3]}};
  ToyDevice* toy = nullptr;
  std::vector<std::string> log;
  std::shared_ptr<VirtioPciDevice> transport;
  test::VirtioPciDriver driver{*make()};
  QueueLayout layout = QueueLayout::contiguous(0x1000, 16);
  test::VirtqueueBuilder ring{memory, layout};

  VirtioPciDevice* make() {
    auto device = std::make_unique<ToyDevice>();
    toy = device.get();
    transport = std::make_shared<VirtioPciDevice>(std::move(device), memory, sink,
                                                  [this](std::string_view line) { log.emplace_back(line); });
    root.add_device(1, transport);  // INTA of device 1 → GSI 17 → lines[1]
    return transport.get();
  }
  bool intx() const { return lines[1]->level; }
  void bring_up(std::uint64_t features = kFeatureVersion1) {
    REQUIRE((driver.negotiate(features) & kStatusFeaturesOk) != 0);
    driver.setup_queue(0, layout, 0);
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }
};

}  // namespace

TEST_CASE_FIXTURE(TransportFixture, "virtio-pci: IDs and the capabilities a driver looks for") {
  CHECK(driver.config_read<std::uint16_t>(pci::kVendorId) == 0x1af4);
  CHECK(driver.config_read<std::uint16_t>(pci::kDeviceId) == 0x1040 + 42);
  CHECK(driver.config_read<std::uint8_t>(pci::kRevisionId) == 1);
  CHECK(driver.config_read<std::uint16_t>(pci::kSubsystemVendorId) == 0x1af4);
  CHECK(driver.config_read<std::uint8_t>(pci::kInterruptPin) == 1);
  // BAR 0: 64-bit memory, 32 KiB.
  driver.config_write<std::uint32_t>(pci::kBar0, 0xffff'ffff);
  CHECK(driver.config_read<std::uint32_t>(pci::kBar0) == 0xffff'8004u);

  for (std::uint8_t type : {t::kCapCommonCfg, t::kCapNotifyCfg, t::kCapIsrCfg, t::kCapDeviceCfg, t::kCapPciCfg}) {
    const std::uint8_t cap = driver.find_capability(pci::kCapabilityVendorSpecific, type);
    REQUIRE_MESSAGE(cap != 0, "virtio capability type ", int(type));
    CHECK(driver.config_read<std::uint8_t>(cap + t::kCapBarField) == (type == t::kCapPciCfg ? 0 : VirtioPciDevice::kBar));
  }
  const std::uint8_t common = driver.find_capability(pci::kCapabilityVendorSpecific, t::kCapCommonCfg);
  CHECK(driver.config_read<std::uint32_t>(common + t::kCapOffsetField) == VirtioPciDevice::kCommonCfgOffset);
  CHECK(driver.config_read<std::uint32_t>(common + t::kCapLengthField) >= 0x38u);
  const std::uint8_t notify = driver.find_capability(pci::kCapabilityVendorSpecific, t::kCapNotifyCfg);
  CHECK(driver.config_read<std::uint8_t>(notify + 2) == 20);  // cap_len with the multiplier
  CHECK(driver.config_read<std::uint32_t>(notify + 16) == VirtioPciDevice::kNotifyOffMultiplier);
  const std::uint8_t msix = driver.find_capability(pci::kCapabilityMsix);
  REQUIRE(msix != 0);
  CHECK((driver.config_read<std::uint16_t>(msix + 2) & 0x7ff) == 2);  // 3 vectors: config + 2 queues

  const auto addresses = transport->notify_addresses(0xc000'0000);
  REQUIRE(addresses.size() == 2);
  CHECK(addresses[1].address == 0xc000'0000 + VirtioPciDevice::kNotifyOffset + 4);
  CHECK(addresses[1].length == 2);
}

TEST_CASE_FIXTURE(TransportFixture, "virtio-pci: feature negotiation") {
  const std::uint64_t offered = driver.device_features();
  CHECK(offered == (1 | kFeatureVersion1 | kFeatureEventIdx | kFeatureIndirectDesc));
  driver.write<std::uint32_t>(t::kDeviceFeatureSelect, 2);
  CHECK(driver.read<std::uint32_t>(t::kDeviceFeature) == 0);

  SUBCASE("without VERSION_1 FEATURES_OK does not stick") {
    CHECK((driver.negotiate(1) & kStatusFeaturesOk) == 0);
  }
  SUBCASE("a feature we did not offer is refused") {
    CHECK((driver.negotiate(kFeatureVersion1 | (1ull << 5)) & kStatusFeaturesOk) == 0);
    CHECK_FALSE(log.empty());
  }
  SUBCASE("a subset of what we offered is accepted and frozen") {
    CHECK((driver.negotiate(kFeatureVersion1 | 1) & kStatusFeaturesOk) != 0);
    driver.write_driver_features(kFeatureVersion1 | kFeatureEventIdx);  // too late: ignored
    driver.write<std::uint32_t>(t::kDriverFeatureSelect, 0);
    CHECK(driver.read<std::uint32_t>(t::kDriverFeature) == 1);
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    CHECK(toy->activations == 1);
    CHECK(toy->features == (kFeatureVersion1 | 1));
  }
  SUBCASE("DRIVER_OK without FEATURES_OK is refused") {
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
    CHECK((driver.status() & kStatusDriverOk) == 0);
    CHECK(toy->activations == 0);
  }
}

TEST_CASE_FIXTURE(TransportFixture, "virtio-pci: queue registers, vectors and reset") {
  CHECK(driver.read<std::uint16_t>(t::kNumQueues) == 2);
  driver.write<std::uint16_t>(t::kQueueSelect, 1);
  CHECK(driver.read<std::uint16_t>(t::kQueueSize) == 8);
  CHECK(driver.read<std::uint16_t>(t::kQueueNotifyOff) == 1);
  CHECK(driver.read<std::uint16_t>(t::kQueueMsixVector) == kNoVector);
  driver.write<std::uint16_t>(t::kQueueSelect, 7);  // no such queue: reads as absent
  CHECK(driver.read<std::uint16_t>(t::kQueueSize) == 0);

  driver.write<std::uint16_t>(t::kConfigMsixVector, 3);  // we have vectors 0-2
  CHECK(driver.read<std::uint16_t>(t::kConfigMsixVector) == kNoVector);
  driver.write<std::uint16_t>(t::kConfigMsixVector, 2);
  CHECK(driver.read<std::uint16_t>(t::kConfigMsixVector) == 2);

  bring_up();
  driver.write<std::uint16_t>(t::kQueueSelect, 0);
  CHECK(driver.read<std::uint16_t>(t::kQueueEnable) == 1);
  CHECK(driver.read<std::uint64_t>(t::kQueueDriver) == layout.avail_ring);
  driver.write<std::uint64_t>(t::kQueueDriver, 0x9000);  // frozen while enabled
  CHECK(driver.read<std::uint64_t>(t::kQueueDriver) == layout.avail_ring);
  // Odd widths: a byte read of the middle of queue_desc.
  CHECK(driver.read<std::uint8_t>(t::kQueueDesc + 1) == ((layout.descriptor_table >> 8) & 0xff));

  driver.set_status(0);
  CHECK(toy->resets == 1);
  CHECK(driver.status() == 0);
  CHECK(driver.read<std::uint16_t>(t::kQueueEnable) == 0);
  CHECK(driver.read<std::uint16_t>(t::kQueueSize) == 64);
  CHECK(driver.read<std::uint16_t>(t::kQueueMsixVector) == kNoVector);
  CHECK(driver.read<std::uint16_t>(t::kConfigMsixVector) == kNoVector);
  driver.write<std::uint32_t>(t::kDriverFeatureSelect, 1);
  CHECK(driver.read<std::uint32_t>(t::kDriverFeature) == 0);
}

TEST_CASE_FIXTURE(TransportFixture, "virtio-pci: a broken queue means NEEDS_RESET and a config interrupt") {
  SUBCASE("queue size not a power of two, INTx") {
    REQUIRE((driver.negotiate(kFeatureVersion1) & kStatusFeaturesOk) != 0);
    QueueLayout bad = layout;
    bad.size = 12;
    driver.setup_queue(0, bad, kNoVector);
    CHECK((driver.status() & kStatusNeedsReset) != 0);
    CHECK(driver.read<std::uint16_t>(t::kQueueEnable) == 0);
    CHECK(intx());
    CHECK(driver.read<std::uint8_t>(VirtioPciDevice::kIsrOffset) == t::kIsrConfig);
    CHECK_FALSE(intx());  // reading the ISR acknowledged it
    CHECK(driver.read<std::uint8_t>(VirtioPciDevice::kIsrOffset) == 0);
    CHECK(test::contains(log.back(), "power of two"));
  }
  SUBCASE("a malformed chain, MSI-X") {
    driver.enable_msix(3, 0xfee0'0000, 0x30);
    REQUIRE((driver.negotiate(kFeatureVersion1) & kStatusFeaturesOk) != 0);
    driver.write<std::uint16_t>(t::kConfigMsixVector, 2);
    driver.setup_queue(0, layout, 0);
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    ring.set_descriptor(0, 0x2000, 16, virtio::kDescFlagNext, 0);  // a loop
    ring.make_available(0);
    driver.write<std::uint16_t>(VirtioPciDevice::notify_offset(0), 0);
    CHECK((driver.status() & kStatusNeedsReset) != 0);
    REQUIRE(sink->sent.size() == 1);
    CHECK(sink->sent[0].data == 0x32);  // the config vector
    CHECK_FALSE(intx());
    // The device stays quiet until reset, however often it is notified.
    const int processed = toy->processed;
    transport->notify_queue(0);
    CHECK(toy->processed == processed);
    // NEEDS_RESET cannot be cleared by the driver, only by a reset.
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    CHECK((driver.status() & kStatusNeedsReset) != 0);
    driver.set_status(0);
    CHECK(driver.status() == 0);
  }
  SUBCASE("rings outside RAM") {
    REQUIRE((driver.negotiate(kFeatureVersion1) & kStatusFeaturesOk) != 0);
    QueueLayout outside = layout;
    outside.used_ring = 0x1'0000'0000ull;
    driver.setup_queue(0, outside, kNoVector);
    CHECK((driver.status() & kStatusNeedsReset) != 0);
  }
}

TEST_CASE_FIXTURE(TransportFixture, "virtio-pci: device config space and config_generation") {
  CHECK(driver.read<std::uint32_t>(VirtioPciDevice::kDeviceCfgOffset + 4) == 0x0807'0605u);
  driver.write<std::uint8_t>(VirtioPciDevice::kDeviceCfgOffset + 1, 0xaa);
  CHECK(toy->config[1] == 0xaa);
  CHECK(driver.read<std::uint32_t>(VirtioPciDevice::kDeviceCfgOffset + 6) == 0);  // past the end
  const auto generation = driver.read<std::uint8_t>(t::kConfigGeneration);
  transport->device_config_changed();
  CHECK(driver.read<std::uint8_t>(t::kConfigGeneration) == static_cast<std::uint8_t>(generation + 1));
  CHECK(intx());
}

TEST_CASE_FIXTURE(TransportFixture, "virtio-pci: the PCI config access window reaches the BAR") {
  const std::uint8_t cap = driver.find_capability(pci::kCapabilityVendorSpecific, t::kCapPciCfg);
  REQUIRE(cap != 0);
  driver.config_write<std::uint8_t>(cap + t::kCapBarField, 0);
  driver.config_write<std::uint32_t>(cap + t::kCapOffsetField, t::kNumQueues);
  driver.config_write<std::uint32_t>(cap + t::kCapLengthField, 2);
  CHECK(driver.config_read<std::uint16_t>(cap + t::kCapPciCfgDataField) == 2);
  driver.config_write<std::uint32_t>(cap + t::kCapOffsetField, t::kDeviceStatus);
  driver.config_write<std::uint32_t>(cap + t::kCapLengthField, 1);
  driver.config_write<std::uint32_t>(cap + t::kCapPciCfgDataField, kStatusAcknowledge);
  CHECK(driver.status() == kStatusAcknowledge);
}

TEST_CASE_FIXTURE(TransportFixture, "virtio-pci: save and restore resume queues and re-activate") {
  driver.enable_msix(3, 0xfee0'0000, 0x40);
  bring_up(kFeatureVersion1 | kFeatureEventIdx);
  ring.write_chain(0, {{0x2000, 16, true}});
  ring.make_available(0);
  transport->notify_queue(0);
  CHECK(ring.used_idx() == 1);
  const VirtioPciState saved = transport->save();
  CHECK(saved.queues[0].queue.next_avail == 1);

  auto device = std::make_unique<ToyDevice>();
  ToyDevice* copy_toy = device.get();
  auto copy = std::make_shared<VirtioPciDevice>(std::move(device), memory, sink);
  copy->connect(pci::PciAddress{0, 1, 0}, &mapper, nullptr);
  copy->restore(saved);
  CHECK(copy_toy->activations == 1);
  CHECK((copy->device_status() & kStatusDriverOk) != 0);
  ring.write_chain(1, {{0x2000, 16, true}});
  ring.set_used_event(1);  // the driver wants to hear when used idx passes 1
  ring.make_available(1);
  const std::size_t messages = sink->sent.size();
  copy->notify_queue(0);
  CHECK(ring.used_idx() == 2);
  CHECK(ring.used_element(1).id == 1);
  REQUIRE(sink->sent.size() == messages + 1);  // MSI-X state came along
  CHECK(sink->sent.back().data == 0x40);
}
