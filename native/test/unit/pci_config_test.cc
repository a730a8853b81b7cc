#include <doctest/doctest.h>

#include "support/recording_msi_sink.h"

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "arch/x86/acpi/acpi_table.h"
#include "bus/pci/mcfg.h"
#include "bus/pci/msix.h"
#include "bus/pci/pci_abi.h"
#include "bus/pci/pci_acpi.h"
#include "bus/pci/pci_bar_allocator.h"
#include "bus/pci/pci_bar_space.h"
#include "bus/pci/pci_config_ports.h"
#include "bus/pci/pci_ecam.h"
#include "bus/pci/pci_host_bridge.h"
#include "bus/pci/pci_layout.h"
#include "bus/pci/pci_root_complex.h"
#include "support/fake_interrupt_line.h"

using namespace nestbox;
using namespace nestbox::pci;

namespace {

// A region that remembers the last access, to see BAR dispatch.
class RecordingRegion : public BusDevice {
 public:
  void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
    last_read = offset;
    std::fill(data.begin(), data.end(), std::uint8_t{0x5a});
  }
  void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    last_write = offset;
    last_value = data.empty() ? 0 : data[0];
  }
  std::uint64_t last_read = ~0ull;
  std::uint64_t last_write = ~0ull;
  std::uint8_t last_value = 0;
};

class RecordingMapper : public PciBarMapper {
 public:
  struct Event {
    bool mapped;
    PciBarMapping mapping;
  };
  void map_bar(const PciBarMapping& mapping) override { events.push_back({true, mapping}); }
  void unmap_bar(const PciBarMapping& mapping) override { events.push_back({false, mapping}); }
  std::vector<Event> events;
};

// BAR0 32-bit memory 4 KiB, BAR1 I/O 32 bytes, BAR2-3 64-bit prefetchable 64 KiB; INTA; MSI-X.
class TestFunction : public PciFunction {
 public:
  TestFunction()
      : PciFunction(PciIdentity{0x1234, 0x5678, 0x02, 0x028000, 0x1234, 0x0001, kInterruptPinIntA}) {
    define_bar(0, {PciBarKind::Memory32, 0x1000, false});
    define_bar(1, {PciBarKind::Io, 32, false});
    define_bar(2, {PciBarKind::Memory64, 0x10000, true});
    msix_offset = add_msix_capability(config(), {4, 0, 0x800, 0, 0xc00});
  }
  std::shared_ptr<RecordingRegion> region = std::make_shared<RecordingRegion>();
  std::uint8_t msix_offset = 0;

 protected:
  std::shared_ptr<BusDevice> bar_region(std::uint8_t) override { return region; }
};

struct PciFixture {
  RecordingMapper mapper;
  std::array<std::shared_ptr<test::FakeInterruptLine>, 4> lines{
      std::make_shared<test::FakeInterruptLine>(), std::make_shared<test::FakeInterruptLine>(),
      std::make_shared<test::FakeInterruptLine>(), std::make_shared<test::FakeInterruptLine>()};
  std::shared_ptr<PciRootComplex> root =
      std::make_shared<PciRootComplex>(mapper, std::array<std::shared_ptr<InterruptLine>, 4>{lines[0], lines[1], lines[2], lines[3]});
  PciConfigPorts ports{root};
  PciEcam ecam{root};
  std::shared_ptr<TestFunction> function = std::make_shared<TestFunction>();

  PciFixture() { root->add_device(3, function); }

  static std::uint32_t address(std::uint8_t device, std::uint8_t reg, std::uint8_t bus = 0) {
    return 0x8000'0000u | (std::uint32_t{bus} << 16) | (std::uint32_t{device} << 11) | reg;
  }
  void select(std::uint32_t value) {
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &value, 4);
    ports.write(0, bytes);
  }
  std::uint32_t port_read(std::uint8_t device, std::uint8_t reg, std::size_t size = 4) {
    select(address(device, reg & 0xfc));
    std::array<std::uint8_t, 4> bytes{};
    ports.read(4 + (reg & 3), std::span(bytes.data(), size));
    std::uint32_t value = 0;
    std::memcpy(&value, bytes.data(), size);
    return value;
  }
  void port_write(std::uint8_t device, std::uint8_t reg, std::uint32_t value, std::size_t size = 4) {
    select(address(device, reg & 0xfc));
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &value, 4);
    ports.write(4 + (reg & 3), std::span<const std::uint8_t>(bytes.data(), size));
  }
  std::uint32_t ecam_read(std::uint8_t device, std::uint16_t reg, std::size_t size = 4) {
    std::array<std::uint8_t, 8> bytes{};
    ecam.read((std::uint64_t{device} << 15) | reg, std::span(bytes.data(), size));
    std::uint32_t value = 0;
    std::memcpy(&value, bytes.data(), std::min<std::size_t>(size, 4));
    return value;
  }
  void ecam_write(std::uint8_t device, std::uint16_t reg, std::uint32_t value, std::size_t size = 4) {
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &value, 4);
    ecam.write((std::uint64_t{device} << 15) | reg, std::span<const std::uint8_t>(bytes.data(), size));
  }
};

}  // namespace

TEST_CASE_FIXTURE(PciFixture, "pci: host bridge and devices through 0xcf8/0xcfc and ECAM") {
  CHECK(port_read(0, kVendorId) == (std::uint32_t{kHostBridgeDeviceId} << 16 | kHostBridgeVendorId));
  CHECK(ecam_read(0, kVendorId) == (std::uint32_t{kHostBridgeDeviceId} << 16 | kHostBridgeVendorId));
  CHECK((port_read(0, kClassCode - 1) >> 8) == kClassHostBridge);
  CHECK(port_read(3, kVendorId) == 0x5678'1234u);
  CHECK(ecam_read(3, kVendorId) == 0x5678'1234u);
  CHECK(port_read(3, kRevisionId, 1) == 0x02);
  // Empty slots, other buses and other functions read as all ones.
  CHECK(port_read(4, kVendorId) == 0xffff'ffffu);
  CHECK(ecam_read(31, kVendorId) == 0xffff'ffffu);
  select(address(3, 0, /*bus=*/1));
  std::array<std::uint8_t, 4> bytes{};
  ports.read(4, bytes);
  CHECK(bytes[0] == 0xff);
  select(address(3, 0) | (1 << 8));  // function 1
  ports.read(4, bytes);
  CHECK(bytes[1] == 0xff);
  // With the enable bit clear nothing is selected.
  select(address(3, 0) & 0x7fff'ffffu);
  ports.read(4, bytes);
  CHECK(bytes[0] == 0xff);
}

TEST_CASE_FIXTURE(PciFixture, "pci: CONFIG_ADDRESS latches dwords only; data ports take bytes and words") {
  select(address(3, 0x10) | 0x3);  // low bits read back as zero
  std::array<std::uint8_t, 4> bytes{};
  ports.read(0, bytes);
  std::uint32_t latched = 0;
  std::memcpy(&latched, bytes.data(), 4);
  CHECK(latched == address(3, 0x10));
  const std::array<std::uint8_t, 1> one{0x06};
  ports.write(1, one);  // a byte write to 0xcf9 is not CONFIG_ADDRESS
  ports.read(0, bytes);
  std::memcpy(&latched, bytes.data(), 4);
  CHECK(latched == address(3, 0x10));

  CHECK(port_read(3, kDeviceId, 2) == 0x5678);      // word at 0xcfe
  CHECK(port_read(3, kVendorId + 1, 1) == 0x12);    // byte at 0xcfd
  CHECK(port_read(3, kClassCode + 2, 1) == 0x02);   // byte at 0xcff
  CHECK(ecam_read(3, kDeviceId + 1, 1) == 0x56);    // unaligned ECAM byte
  CHECK(ecam_read(3, kVendorId, 8) == 0x5678'1234u);  // 8-byte ECAM access
  CHECK(ecam_read(3, 0xffe, 4) == 0xffff'ffffu);    // crosses into the next function
  CHECK(ecam_read(3, 0x100) == 0);                  // no extended capabilities
}

TEST_CASE_FIXTURE(PciFixture, "pci: read-only fields stay read-only") {
  port_write(3, kVendorId, 0xdead'beef);
  CHECK(port_read(3, kVendorId) == 0x5678'1234u);
  ecam_write(3, kRevisionId, 0xffff'ffff);
  CHECK(ecam_read(3, kRevisionId) == 0x0280'0002u);
  port_write(3, kInterruptLine, 0xffff'ff0b);
  CHECK(port_read(3, kInterruptLine, 1) == 0x0b);      // the line register is the OS's
  CHECK(port_read(3, kInterruptPin, 1) == kInterruptPinIntA);
  port_write(3, kCapabilitiesPointer, 0);
  CHECK(port_read(3, kCapabilitiesPointer, 1) == kFirstCapabilityOffset);
  port_write(3, kCommand, 0xffff'ffff);
  CHECK(port_read(3, kCommand, 2) == (kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster |
                                     kCommandParityError | kCommandSerr | kCommandIntxDisable));
  CHECK((port_read(3, kStatus, 2) & kStatusCapabilitiesList) != 0);
}

TEST_CASE_FIXTURE(PciFixture, "pci: BAR sizing round trip for memory, I/O and 64-bit BARs") {
  const auto size_bar = [&](std::uint8_t reg) {
    const std::uint32_t saved = port_read(3, reg);
    port_write(3, reg, 0xffff'ffff);
    const std::uint32_t mask = port_read(3, reg);
    port_write(3, reg, saved);
    CHECK(port_read(3, reg) == saved);
    return mask;
  };
  CHECK(size_bar(kBar0) == 0xffff'f000u);           // 4 KiB, 32-bit, not prefetchable
  CHECK(size_bar(kBar0 + 4) == 0xffff'ffe1u);       // 32 ports, I/O
  CHECK(size_bar(kBar0 + 8) == 0xffff'000cu);       // 64 KiB, 64-bit, prefetchable
  CHECK(size_bar(kBar0 + 12) == 0xffff'ffffu);      // upper half: all address bits
  CHECK(size_bar(kBar0 + 16) == 0);                 // unimplemented BARs are zero
  CHECK(mapper.events.empty());                     // decoding was off throughout
}

TEST_CASE_FIXTURE(PciFixture, "pci: BAR programming and moves call the mapper") {
  port_write(3, kBar0, 0xc000'1000);
  CHECK(mapper.events.empty());  // memory decoding still off
  port_write(3, kCommand, kCommandMemorySpace, 2);
  REQUIRE(mapper.events.size() == 1);
  CHECK(mapper.events[0].mapped);
  CHECK(mapper.events[0].mapping.address == 0xc000'1000);
  CHECK(mapper.events[0].mapping.size == 0x1000);
  CHECK(mapper.events[0].mapping.bar == 0);
  CHECK(mapper.events[0].mapping.function == PciAddress{0, 3, 0});
  CHECK(mapper.events[0].mapping.region == function->region);

  ecam_write(3, kBar0, 0xc000'4000);  // move
  REQUIRE(mapper.events.size() == 3);
  CHECK_FALSE(mapper.events[1].mapped);
  CHECK(mapper.events[1].mapping.address == 0xc000'1000);
  CHECK(mapper.events[2].mapped);
  CHECK(mapper.events[2].mapping.address == 0xc000'4000);

  // A 64-bit BAR above 4 GiB, written one half at a time while decoding:
  // each half moves it (drivers turn decoding off first to avoid that).
  port_write(3, kBar0 + 12, 0x1);
  CHECK(mapper.events.back().mapping.address == 0x1'0000'0000ull);
  port_write(3, kBar0 + 8, 0x0001'0000);
  REQUIRE(mapper.events.size() == 6);
  CHECK(mapper.events[4].mapping.address == 0x1'0000'0000ull);
  CHECK_FALSE(mapper.events[4].mapped);
  CHECK(mapper.events[5].mapping.address == 0x1'0001'0000ull);
  CHECK(mapper.events[5].mapping.kind == PciBarKind::Memory64);

  port_write(3, kCommand, 0, 2);  // decoding off unmaps both
  CHECK(mapper.events.size() == 8);
  CHECK_FALSE(mapper.events[7].mapped);
  CHECK_FALSE(function->bar_mapping(0).has_value());

  port_write(3, kBar0 + 4, 0xc101);  // I/O BAR decodes with the I/O enable
  port_write(3, kCommand, kCommandIoSpace, 2);
  CHECK(mapper.events.back().mapping.kind == PciBarKind::Io);
  CHECK(mapper.events.back().mapping.address == 0xc100);
}

TEST_CASE_FIXTURE(PciFixture, "pci: capability list walk reaches MSI-X") {
  std::uint8_t pointer = static_cast<std::uint8_t>(port_read(3, kCapabilitiesPointer, 1));
  bool found_msix = false;
  for (int hops = 0; pointer != 0 && hops < 48; ++hops) {
    CHECK(pointer % 4 == 0);
    if (port_read(3, pointer, 1) == kCapabilityMsix) {
      found_msix = true;
      CHECK((port_read(3, pointer + 2, 2) & 0x7ff) == 3);     // table size - 1
      CHECK(port_read(3, pointer + 4) == 0x800u);              // table at BAR0 + 0x800
      CHECK(port_read(3, pointer + 8) == 0xc00u);              // PBA at BAR0 + 0xc00
    }
    pointer = static_cast<std::uint8_t>(port_read(3, pointer + 1, 1));
  }
  CHECK(found_msix);
}

TEST_CASE_FIXTURE(PciFixture, "pci: INTx follows the swizzle, the disable bit and shares lines") {
  // Device 3, INTA → GSI 16 + 3.
  function->set_intx_level(true);
  CHECK(lines[3]->level);
  CHECK((port_read(3, kStatus, 2) & kStatusInterrupt) != 0);
  port_write(3, kCommand, kCommandIntxDisable, 2);
  CHECK_FALSE(lines[3]->level);
  CHECK((port_read(3, kStatus, 2) & kStatusInterrupt) != 0);  // still pending inside
  port_write(3, kCommand, 0, 2);
  CHECK(lines[3]->level);

  // Device 7 also lands on GSI 19: the line stays up until both let go.
  auto other = std::make_shared<TestFunction>();
  root->add_device(7, other);
  other->set_intx_level(true);
  function->set_intx_level(false);
  CHECK(lines[3]->level);
  other->set_intx_level(false);
  CHECK_FALSE(lines[3]->level);

  CHECK(intx_gsi(0, 0) == 16);
  CHECK(intx_gsi(1, 3) == 16);
  CHECK(intx_gsi(2, 1) == 19);
  CHECK(root->interrupt_routes().size() == 32 * 4);
  CHECK_THROWS(root->add_device(7, std::make_shared<TestFunction>()));
  CHECK_THROWS(root->add_device(0, std::make_shared<TestFunction>()));
}

TEST_CASE_FIXTURE(PciFixture, "pci: assign_resources places BARs like firmware") {
  PciBarAllocator allocator;
  root->assign_resources(allocator);
  const std::uint64_t bar2 = function->bar_address(2);
  const std::uint64_t bar0 = function->bar_address(0);
  const std::uint64_t bar1 = function->bar_address(1);
  CHECK(bar2 == kMmioWindowBase);  // the largest first
  CHECK(bar2 % 0x10000 == 0);
  CHECK(bar0 >= kMmioWindowBase + 0x10000);
  CHECK(bar0 % 0x1000 == 0);
  CHECK(bar1 >= kIoWindowBase);
  CHECK(bar1 % 32 == 0);
  CHECK(function->bar_mapping(0).has_value());
  CHECK(function->bar_mapping(2).has_value());
  CHECK(port_read(3, kInterruptLine, 1) == 19);
  CHECK((port_read(3, kCommand, 2) & (kCommandIoSpace | kCommandMemorySpace)) ==
        (kCommandIoSpace | kCommandMemorySpace));

  PciBarAllocator tiny(kMmioWindowBase, 0x1000, kIoWindowBase, 0x10);
  CHECK(tiny.allocate(PciBarKind::Memory32, 0x1000) == kMmioWindowBase);
  CHECK_THROWS(tiny.allocate(PciBarKind::Memory32, 16));
  CHECK_THROWS(tiny.allocate(PciBarKind::Io, 32));
}

TEST_CASE_FIXTURE(PciFixture, "pci: function state survives save and restore") {
  port_write(3, kBar0, 0xc000'2000);
  port_write(3, kCommand, kCommandMemorySpace, 2);
  function->set_intx_level(true);
  const PciFunctionState saved = function->save_function();

  RecordingMapper other_mapper;
  auto copy = std::make_shared<TestFunction>();
  copy->connect(PciAddress{0, 3, 0}, &other_mapper, nullptr);
  copy->restore_function(saved);
  REQUIRE(other_mapper.events.size() == 1);
  CHECK(other_mapper.events[0].mapping.address == 0xc000'2000);
  std::array<std::uint8_t, 2> status{};
  copy->config_read(kStatus, status);
  CHECK((status[0] & kStatusInterrupt) != 0);
}

TEST_CASE("pci: BAR spaces dispatch, reject overlaps and read all ones where empty") {
  auto mmio = std::make_shared<PciBarSpace>("pci-mmio", kMmioWindowBase, kMmioWindowSize);
  auto io = std::make_shared<PciBarSpace>("pci-io", kIoWindowBase, kIoWindowSize);
  PciBarRouter router(io, mmio);
  std::vector<bool> heard;
  router.set_listener([&](const PciBarMapping&, bool mapped) { heard.push_back(mapped); });
  auto a = std::make_shared<RecordingRegion>();
  auto b = std::make_shared<RecordingRegion>();
  const PciBarMapping first{{0, 1, 0}, 0, PciBarKind::Memory32, kMmioWindowBase + 0x1000, 0x1000, a};
  const PciBarMapping overlapping{{0, 2, 0}, 0, PciBarKind::Memory32, kMmioWindowBase + 0x1800, 0x1000, b};
  const PciBarMapping outside{{0, 2, 0}, 0, PciBarKind::Memory32, 0x1000, 0x1000, b};
  router.map_bar(first);
  router.map_bar(overlapping);
  router.map_bar(outside);
  CHECK(heard == std::vector<bool>{true});

  std::array<std::uint8_t, 4> data{};
  mmio->read(0x1010, data);
  CHECK(a->last_read == 0x10);
  CHECK(data[0] == 0x5a);
  mmio->read(0x3000, data);
  CHECK(data[0] == 0xff);
  mmio->read(0x1ffe, data);  // runs off the BAR's end
  CHECK(data[0] == 0xff);
  const std::array<std::uint8_t, 1> value{7};
  mmio->write(0x1fff, value);
  CHECK(a->last_write == 0xfff);
  router.unmap_bar(overlapping);  // never mapped: must not remove the first
  mmio->read(0x1000, data);
  CHECK(data[0] == 0x5a);
  router.unmap_bar(first);
  mmio->read(0x1000, data);
  CHECK(data[0] == 0xff);
}

TEST_CASE("pci: MSI-X masking, pending bits and delivery") {
  auto sink = std::make_shared<test::RecordingMsiSink>();
  MsixVectors msix(3);
  msix.set_sink(sink);
  const auto write32 = [&](std::uint64_t offset, std::uint32_t value) {
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &value, 4);
    msix.table_write(offset, bytes);
  };
  const auto pba = [&] {
    std::array<std::uint8_t, 8> bytes{};
    msix.pba_read(0, bytes);
    return bytes[0];
  };
  write32(16 + 0, 0xfee0'1000);
  write32(16 + 4, 0);
  write32(16 + 8, 0x4041);

  msix.notify(1);  // MSI-X disabled: nothing, not even pending
  CHECK(sink->sent.empty());
  CHECK(pba() == 0);
  msix.set_control(kMsixControlEnable);
  msix.notify(1);  // entry still masked (reset state)
  CHECK(sink->sent.empty());
  CHECK(pba() == 0x2);
  write32(16 + 12, 0xffff'fffe);  // unmask (reserved bits ignored) → pending goes out
  REQUIRE(sink->sent.size() == 1);
  CHECK(sink->sent[0] == MsiMessage{0xfee0'1000, 0x4041});
  CHECK(pba() == 0);
  std::array<std::uint8_t, 4> control{};
  msix.table_read(16 + 12, control);
  CHECK(control[0] == 0);
  CHECK(control[1] == 0);

  msix.set_control(kMsixControlEnable | kMsixControlFunctionMask);
  msix.notify(1);
  CHECK(sink->sent.size() == 1);
  msix.set_control(kMsixControlEnable);
  CHECK(sink->sent.size() == 2);
  msix.notify(1);
  CHECK(sink->sent.size() == 3);
  msix.notify(9);  // not a vector we have
  CHECK(sink->sent.size() == 3);

  const MsixState saved = msix.save();
  MsixVectors copy(3);
  copy.set_sink(sink);
  copy.restore(saved);
  copy.notify(1);
  CHECK(sink->sent.size() == 4);
  MsixVectors wrong(4);
  CHECK_THROWS(wrong.restore(saved));
}

TEST_CASE("pci: MCFG names the ECAM window for bus 0") {
  const std::vector<std::uint8_t> mcfg = build_mcfg();
  REQUIRE(mcfg.size() == 60);
  CHECK(std::string(mcfg.begin(), mcfg.begin() + 4) == "MCFG");
  CHECK(x86::acpi::byte_sum(mcfg) == 0);
  std::uint64_t base = 0;
  std::memcpy(&base, &mcfg[44], 8);
  CHECK(base == kEcamBase);
  CHECK(mcfg[52] == 0);  // segment
  CHECK(mcfg[54] == 0);  // first bus
  CHECK(mcfg[55] == 0);  // last bus
  CHECK_THROWS(build_mcfg(kEcamBase + 4096));
}

TEST_CASE("pci: the \\_SB terms describe PCI0 with _CRS windows and _PRT") {
  const std::vector<PciInterruptRoute> routes{{1, 0, 17}, {2, 3, 17}};
  const std::vector<std::uint8_t> aml = build_pci_acpi_terms(PciAcpiConfig{}, routes);
  const auto has = [&](std::vector<std::uint8_t> needle) {
    return std::search(aml.begin(), aml.end(), needle.begin(), needle.end()) != aml.end();
  };
  CHECK(has({'P', 'C', 'I', '0'}));
  CHECK(has({'_', 'P', 'R', 'T'}));
  CHECK(has({'_', 'S', 'E', 'G'}));
  CHECK(has({'_', 'B', 'B', 'N'}));
  CHECK(has({0x41, 0xd0, 0x0a, 0x08}));  // EISAID("PNP0A08")
  CHECK(has({0x41, 0xd0, 0x0a, 0x03}));  // EISAID("PNP0A03")
  CHECK(has({0x41, 0xd0, 0x0c, 0x02}));  // EISAID("PNP0C02") reserving ECAM
  CHECK(has({0x0c, 0xff, 0xff, 0x01, 0x00}));  // DWord 0x0001ffff: device 1, any function
  CHECK(has({0x0c, 0xff, 0xff, 0x02, 0x00, 0x0a, 0x03, 0x00, 0x0a, 0x11}));  // dev 2 pin 3 → GSI 17

  const std::vector<std::uint8_t> crs = build_pci_root_resources(PciAcpiConfig{});
  // WordBusNumber 0-0, IO 0xcf8/8, WordIO window, DWordMemory window, end tag.
  REQUIRE(crs.size() == 16 + 8 + 16 + 26 + 2);
  CHECK(crs[0] == 0x88);
  CHECK(crs[3] == 2);                          // bus number range
  CHECK(crs[16] == 0x47);                      // IO
  CHECK(crs[24] == 0x88);
  CHECK(crs[27] == 1);                         // I/O range
  CHECK((crs[32] | crs[33] << 8) == 0xc000);   // minimum
  CHECK((crs[34] | crs[35] << 8) == 0xffff);   // maximum
  CHECK(crs[40] == 0x87);
  CHECK(crs[43] == 0);                         // memory range
  std::uint32_t minimum = 0;
  std::uint32_t maximum = 0;
  std::memcpy(&minimum, &crs[50], 4);
  std::memcpy(&maximum, &crs[54], 4);
  CHECK(minimum == kMmioWindowBase);
  CHECK(maximum == kMmioWindowBase + kMmioWindowSize - 1);
  CHECK(crs[66] == 0x79);
}
