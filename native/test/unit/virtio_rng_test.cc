#include <doctest/doctest.h>

#include "support/recording_msi_sink.h"

#include <memory>
#include <vector>

#include "bus/pci/msi_sink.h"
#include "bus/pci/pci_bar_allocator.h"
#include "bus/pci/pci_bar_space.h"
#include "bus/pci/pci_layout.h"
#include "bus/pci/pci_root_complex.h"
#include "devices/virtio/pci/virtio_pci_abi.h"
#include "devices/virtio/pci/virtio_pci_device.h"
#include "devices/virtio/rng/virtio_rng.h"
#include "devices/virtio/virtio_abi.h"
#include "support/fake_guest_memory.h"
#include "support/fake_interrupt_line.h"
#include "support/virtio_pci_driver.h"
#include "support/virtqueue_builder.h"

using namespace nestbox;
using namespace nestbox::virtio;
namespace t = nestbox::virtio::pci_transport;
using test::QueueLayout;

namespace {

// Bytes 0, 1, 2, ... continuing across calls: what landed where is checkable.
struct CountingEntropy {
  std::shared_ptr<std::uint8_t> next = std::make_shared<std::uint8_t>(0);
  void operator()(std::span<std::uint8_t> buffer) const {
    for (std::uint8_t& byte : buffer) byte = (*next)++;
  }
};

constexpr std::uint64_t kData = 0x20000;

struct RngFixture {
  GuestMemory memory = test::make_guest_memory();
  std::shared_ptr<test::RecordingMsiSink> sink = std::make_shared<test::RecordingMsiSink>();
  std::shared_ptr<test::FakeInterruptLine> gsi18 = std::make_shared<test::FakeInterruptLine>();
  std::shared_ptr<pci::PciBarSpace> mmio =
      std::make_shared<pci::PciBarSpace>("mmio", pci::kMmioWindowBase, pci::kMmioWindowSize);
  std::shared_ptr<pci::PciBarSpace> io =
      std::make_shared<pci::PciBarSpace>("io", pci::kIoWindowBase, pci::kIoWindowSize);
  pci::PciBarRouter router{io, mmio};
  pci::PciRootComplex root{router, {nullptr, nullptr, gsi18, nullptr}};
  std::shared_ptr<VirtioPciDevice> transport = std::make_shared<VirtioPciDevice>(
      std::make_unique<VirtioRng>(CountingEntropy{}), memory, sink);
  test::VirtioPciDriver driver{*transport};
  QueueLayout layout = QueueLayout::contiguous(0x1000, 8);
  test::VirtqueueBuilder ring{memory, layout};

  RngFixture() {
    root.add_device(2, transport);  // INTA → GSI 18
    pci::PciBarAllocator allocator;
    root.assign_resources(allocator);
  }
  std::uint64_t bar() const { return transport->bar_mapping(VirtioPciDevice::kBar)->address; }
  // The guest's notify write, through the MMIO window like a real exit.
  void notify_through_mmio(std::uint16_t queue) {
    const std::array<std::uint8_t, 2> value{static_cast<std::uint8_t>(queue), 0};
    mmio->write(bar() + VirtioPciDevice::notify_offset(queue) - pci::kMmioWindowBase, value);
  }
  void bring_up(std::uint64_t features, std::uint16_t vector) {
    REQUIRE((driver.negotiate(features) & kStatusFeaturesOk) != 0);
    driver.setup_queue(0, layout, vector);
    driver.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    REQUIRE((driver.status() & kStatusDriverOk) != 0);
  }
};

}  // namespace

TEST_CASE_FIXTURE(RngFixture, "virtio-rng: buffers come back full of entropy, MSI-X per completion") {
  REQUIRE(transport->bar_mapping(VirtioPciDevice::kBar).has_value());
  CHECK(bar() >= pci::kMmioWindowBase);
  driver.enable_msix(2, 0xfee0'0000, 0x50);
  bring_up(kFeatureVersion1, 1);

  ring.write_chain(0, {{kData, 16, true}});
  ring.write_chain(1, {{kData + 0x100, 4, true}, {kData + 0x200, 4, true}});
  ring.make_available(0);
  ring.make_available(1);
  notify_through_mmio(0);

  CHECK(ring.used_idx() == 2);
  CHECK(ring.used_element(0).id == 0);
  CHECK(ring.used_element(0).length == 16);
  CHECK(ring.used_element(1).id == 1);
  CHECK(ring.used_element(1).length == 8);
  CHECK(memory.read_object<std::uint8_t>(kData) == 0);
  CHECK(memory.read_object<std::uint8_t>(kData + 15) == 15);
  CHECK(memory.read_object<std::uint8_t>(kData + 0x100) == 16);
  CHECK(memory.read_object<std::uint8_t>(kData + 0x200) == 20);
  REQUIRE(sink->sent.size() == 1);  // one interrupt for the batch
  CHECK(sink->sent[0] == pci::MsiMessage{0xfee0'0000, 0x51});
  CHECK_FALSE(gsi18->level);

  // The ioeventfd path: the machine's I/O thread calls notify_queue().
  ring.write_chain(2, {{kData + 0x300, 32, true}});
  ring.make_available(2);
  transport->notify_queue(0);
  CHECK(ring.used_idx() == 3);
  CHECK(sink->sent.size() == 2);
}

TEST_CASE_FIXTURE(RngFixture, "virtio-rng: INTx and the ISR without MSI-X") {
  bring_up(kFeatureVersion1, kNoVector);
  ring.write_chain(0, {{kData, 8, true}});
  ring.make_available(0);
  notify_through_mmio(0);
  CHECK(ring.used_idx() == 1);
  CHECK(gsi18->level);
  std::array<std::uint8_t, 1> isr{};
  mmio->read(bar() + VirtioPciDevice::kIsrOffset - pci::kMmioWindowBase, isr);
  CHECK(isr[0] == t::kIsrQueue);
  CHECK_FALSE(gsi18->level);
  CHECK(sink->sent.empty());
}

TEST_CASE_FIXTURE(RngFixture, "virtio-rng: event index suppresses the interrupt the driver declined") {
  driver.enable_msix(2, 0xfee0'0000, 0x60);
  bring_up(kFeatureVersion1 | kFeatureEventIdx, 1);
  ring.set_used_event(5);  // "interrupt me once used idx passes 5"
  ring.write_chain(0, {{kData, 8, true}});
  ring.make_available(0);
  transport->notify_queue(0);
  CHECK(sink->sent.size() == 1);  // the first decision always interrupts
  ring.write_chain(1, {{kData, 8, true}});
  ring.make_available(1);
  transport->notify_queue(0);
  CHECK(ring.used_idx() == 2);
  CHECK(sink->sent.size() == 1);  // suppressed
  CHECK(ring.avail_event() == 2);  // and the device asked to hear about entry 2
}

TEST_CASE_FIXTURE(RngFixture, "virtio-rng: huge and readable buffers are bounded and skipped") {
  bring_up(kFeatureVersion1, kNoVector);
  ring.write_chain(0, {{kData, 8, false}, {kData + 0x1000, 0x30000, true}});
  ring.make_available(0);
  transport->notify_queue(0);
  CHECK(ring.used_element(0).length == VirtioRng::kMaxBytesPerRequest);
  CHECK(memory.read_object<std::uint8_t>(kData) == 0);  // the readable one untouched
}

TEST_CASE_FIXTURE(RngFixture, "virtio-rng: a malformed request resets the device, not the VMM") {
  bring_up(kFeatureVersion1, kNoVector);
  ring.set_descriptor(0, test::kFakeRamSize - 4, 64, kDescFlagWrite);
  ring.make_available(0);
  transport->notify_queue(0);
  CHECK((driver.status() & kStatusNeedsReset) != 0);
  CHECK(ring.used_idx() == 0);
  CHECK(gsi18->level);  // config-change interrupt through INTx
}

TEST_CASE("virtio-rng: the host source fills buffers") {
  const EntropySource source = host_entropy_source();
  std::vector<std::uint8_t> a(64);
  std::vector<std::uint8_t> b(64);
  source(a);
  source(b);
  CHECK(a != b);
  VirtioRng rng(source);
  CHECK(rng.device_type() == kDeviceTypeEntropy);
  CHECK(rng.device_features() == 0);
  CHECK(rng.queue_max_sizes().size() == 1);
  rng.restore(VirtioRngState{123});
  CHECK(rng.save().bytes_delivered == 123);
}
