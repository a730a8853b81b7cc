// The display as a PCI function: IDs and BARs, the framebuffer slot, DISPI
// programming through BAR 2 and the legacy ports, VGA blanking, the QEMU
// extension, EDID, mode events, the direct-boot mode, save/restore.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "bus/address_bus.h"
#include "bus/pci/pci_abi.h"
#include "bus/pci/pci_bar_allocator.h"
#include "bus/pci/pci_bar_space.h"
#include "bus/pci/pci_layout.h"
#include "bus/pci/pci_root_complex.h"
#include "devices/display/bochs_display.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::display;

namespace {

constexpr pci::PciAddress kSlot{0, 1, 0};
constexpr std::uint64_t k16MiB = 16ull << 20;

struct MapperCall {
  bool map;
  std::uint64_t address;
  std::uint8_t* host;
  std::uint64_t size;
};

class RecordingMapper : public FramebufferMapper {
 public:
  void map_framebuffer(std::uint64_t address, std::uint8_t* host, std::uint64_t size) override {
    calls.push_back({true, address, host, size});
  }
  void unmap_framebuffer(std::uint64_t address, std::uint64_t size) override {
    calls.push_back({false, address, nullptr, size});
  }
  std::vector<MapperCall> calls;
};

// A root complex whose BARs decode in real PciBarSpaces, with the listener
// the machine installs (route_framebuffer_bar).
struct DisplayFixture {
  std::shared_ptr<pci::PciBarSpace> io =
      std::make_shared<pci::PciBarSpace>("io", pci::kIoWindowBase, pci::kIoWindowSize);
  std::shared_ptr<pci::PciBarSpace> mmio =
      std::make_shared<pci::PciBarSpace>("mmio", pci::kMmioWindowBase, pci::kMmioWindowSize);
  pci::PciBarRouter router{io, mmio};
  pci::PciRootComplex root{router, {}};
  RecordingMapper mapper;
  std::shared_ptr<BochsDisplay> display;
  std::vector<std::optional<DisplayMode>> events;
  std::vector<std::optional<DisplayMode>> seen_by_query;
  AddressBus ports{"ports"};

  explicit DisplayFixture(const BochsDisplayConfig& config = {}) {
    router.set_listener([](const pci::PciBarMapping& mapping, bool mapped) {
      route_framebuffer_bar(mapping, mapped);
    });
    display = std::make_shared<BochsDisplay>(config);
    display->set_framebuffer_mapper(&mapper);
    display->set_mode_listener([this](const std::optional<DisplayMode>& mode) {
      events.push_back(mode);
      // The listener may query the device (no lock is held that it needs).
      seen_by_query.push_back(display->visible_mode());
    });
    root.add_device(kSlot.device, display);
    pci::PciBarAllocator allocator;
    root.assign_resources(allocator);
    ports.attach(BochsDisplay::kLegacyPortBase, BochsDisplay::kLegacyPortCount,
                 display->legacy_dispi_ports());
  }

  template <typename T>
  T config_read(std::uint16_t offset) {
    std::array<std::uint8_t, sizeof(T)> bytes{};
    root.config_read(kSlot, offset, bytes);
    T value{};
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }
  template <typename T>
  void config_write(std::uint16_t offset, T value) {
    std::array<std::uint8_t, sizeof(T)> bytes{};
    std::memcpy(bytes.data(), &value, sizeof(T));
    root.config_write(kSlot, offset, bytes);
  }

  std::uint64_t bar(std::uint8_t index) const { return display->bar_address(index); }

  // BAR 2 accesses as a vCPU's MMIO exit would make them.
  template <typename T>
  T mmio_read(std::uint64_t offset) {
    std::array<std::uint8_t, sizeof(T)> bytes{};
    mmio->read(bar(2) + offset - mmio->base(), bytes);
    T value{};
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }
  template <typename T>
  void mmio_write(std::uint64_t offset, T value) {
    std::array<std::uint8_t, sizeof(T)> bytes{};
    std::memcpy(bytes.data(), &value, sizeof(T));
    mmio->write(bar(2) + offset - mmio->base(), bytes);
  }
  std::uint16_t dispi_read(std::uint16_t index) {
    return mmio_read<std::uint16_t>(BochsDisplay::kDispiOffset + 2 * index);
  }
  void dispi_write(std::uint16_t index, std::uint16_t value) {
    mmio_write<std::uint16_t>(BochsDisplay::kDispiOffset + 2 * index, value);
  }

  // Port I/O as outw/inw.
  void outw(std::uint16_t port, std::uint16_t value) {
    const std::array<std::uint8_t, 2> bytes{static_cast<std::uint8_t>(value),
                                            static_cast<std::uint8_t>(value >> 8)};
    REQUIRE(ports.write(port, bytes));
  }
  std::uint16_t inw(std::uint16_t port) {
    std::array<std::uint8_t, 2> bytes{};
    REQUIRE(ports.read(port, bytes));
    return static_cast<std::uint16_t>(bytes[0] | bytes[1] << 8);
  }

  // bochs-drm's bochs_hw_setmode() through BAR 2.
  void linux_mode_set(std::uint16_t width, std::uint16_t height) {
    mmio_write<std::uint8_t>(BochsDisplay::kVgaOffset + 0x02, 0x01);  // misc: colour
    static_cast<void>(mmio_read<std::uint8_t>(BochsDisplay::kVgaOffset + 0x1a));  // flip-flop
    mmio_write<std::uint8_t>(BochsDisplay::kVgaOffset, 0x20);  // unblank
    dispi_write(dispi::kIndexEnable, 0);
    dispi_write(dispi::kIndexBpp, 32);
    dispi_write(dispi::kIndexXres, width);
    dispi_write(dispi::kIndexYres, height);
    dispi_write(dispi::kIndexBank, 0);
    dispi_write(dispi::kIndexVirtWidth, width);
    dispi_write(dispi::kIndexVirtHeight, static_cast<std::uint16_t>(k16MiB / (width * 4u)));
    dispi_write(dispi::kIndexXOffset, 0);
    dispi_write(dispi::kIndexYOffset, 0);
    dispi_write(dispi::kIndexEnable, dispi::kEnabled | dispi::kLfbEnabled);
  }
};

}  // namespace

TEST_CASE("bochs display: identity and BARs a driver sees") {
  DisplayFixture f;
  CHECK(f.config_read<std::uint16_t>(pci::kVendorId) == 0x1234);
  CHECK(f.config_read<std::uint16_t>(pci::kDeviceId) == 0x1111);
  CHECK(f.config_read<std::uint8_t>(pci::kRevisionId) == 2);
  CHECK(f.config_read<std::uint8_t>(pci::kClassCode) == 0x00);      // programming interface
  CHECK(f.config_read<std::uint8_t>(pci::kClassCode + 1) == 0x80);  // other display controller
  CHECK(f.config_read<std::uint8_t>(pci::kClassCode + 2) == 0x03);  // display
  CHECK(f.config_read<std::uint16_t>(pci::kSubsystemVendorId) == 0x1af4);
  CHECK(f.config_read<std::uint16_t>(pci::kSubsystemId) == 0x1100);
  CHECK(f.config_read<std::uint8_t>(pci::kInterruptPin) == 0);

  const std::uint32_t bar0 = f.config_read<std::uint32_t>(pci::kBar0);
  CHECK((bar0 & 0xf) == 0x8);  // 32-bit, prefetchable memory
  CHECK((bar0 & ~0xfu) % k16MiB == 0);
  const std::uint32_t bar2 = f.config_read<std::uint32_t>(pci::kBar0 + 8);
  CHECK((bar2 & 0xf) == 0x0);  // 32-bit, not prefetchable
  // BAR sizing: all ones in, size mask out.
  f.config_write<std::uint32_t>(pci::kBar0, 0xffff'ffff);
  CHECK(f.config_read<std::uint32_t>(pci::kBar0) == 0xff00'0008u);
  f.config_write<std::uint32_t>(pci::kBar0, bar0);
  f.config_write<std::uint32_t>(pci::kBar0 + 8, 0xffff'ffff);
  CHECK(f.config_read<std::uint32_t>(pci::kBar0 + 8) == 0xffff'f000u);
  f.config_write<std::uint32_t>(pci::kBar0 + 8, bar2);
  CHECK(f.config_read<std::uint32_t>(pci::kBar0 + 4) == 0);  // BAR 1 unused
}

TEST_CASE("bochs display: the VRAM follows BAR 0 into the guest through the mapper") {
  DisplayFixture f;
  REQUIRE(f.mapper.calls.size() == 1);
  const MapperCall first = f.mapper.calls[0];  // a copy: calls grows below
  CHECK(first.map);
  CHECK(first.address == f.bar(0));
  CHECK(first.host == f.display->vram().data());
  CHECK(first.size == k16MiB);
  CHECK(f.display->framebuffer_mapped_at() == f.bar(0));

  SUBCASE("memory decoding off and on") {
    const std::uint16_t command = f.config_read<std::uint16_t>(pci::kCommand);
    f.config_write<std::uint16_t>(pci::kCommand, 0);
    REQUIRE(f.mapper.calls.size() == 2);
    CHECK_FALSE(f.mapper.calls[1].map);
    CHECK(f.mapper.calls[1].address == first.address);
    CHECK_FALSE(f.display->framebuffer_mapped_at().has_value());
    f.config_write<std::uint16_t>(pci::kCommand, command);
    REQUIRE(f.mapper.calls.size() == 3);
    CHECK(f.mapper.calls[2].map);
  }
  SUBCASE("the guest moves the BAR") {
    const std::uint64_t moved = pci::kMmioWindowBase + 0x1000'0000;
    f.config_write<std::uint32_t>(pci::kBar0, static_cast<std::uint32_t>(moved));
    REQUIRE(f.mapper.calls.size() == 3);
    CHECK_FALSE(f.mapper.calls[1].map);
    CHECK(f.mapper.calls[1].address == first.address);
    CHECK(f.mapper.calls[2].map);
    CHECK(f.mapper.calls[2].address == moved);
  }
  SUBCASE("without a slot the VRAM is reached by MMIO") {
    f.display->set_framebuffer_mapper(nullptr);
    REQUIRE(f.mapper.calls.size() == 2);
    CHECK_FALSE(f.mapper.calls[1].map);
    const std::array<std::uint8_t, 4> pixel{0x11, 0x22, 0x33, 0x44};
    f.mmio->write(f.bar(0) + 4096 - f.mmio->base(), pixel);
    CHECK(f.display->vram()[4096] == 0x11);
    CHECK(f.display->vram()[4099] == 0x44);
    f.display->vram()[k16MiB - 1] = 0x5a;
    std::array<std::uint8_t, 1> last{};
    f.mmio->read(f.bar(0) + k16MiB - 1 - f.mmio->base(), last);
    CHECK(last[0] == 0x5a);
    // Setting a mapper again maps where the BAR decodes now.
    f.display->set_framebuffer_mapper(&f.mapper);
    REQUIRE(f.mapper.calls.size() == 3);
    CHECK(f.mapper.calls[2].map);
    CHECK(f.mapper.calls[2].address == f.bar(0));
  }
}

TEST_CASE("bochs display: Linux's mode set through BAR 2") {
  DisplayFixture f;
  CHECK(f.dispi_read(dispi::kIndexId) == 0xb0c5);
  CHECK(f.dispi_read(dispi::kIndexVideoMemory64k) == 256);  // = BAR 0 size / 64 KiB
  CHECK_FALSE(f.display->visible_mode().has_value());

  f.linux_mode_set(1024, 768);
  const DisplayMode expected{1024, 768, 32, 4096, 0, false};
  REQUIRE(f.events.size() == 1);
  CHECK(f.events[0] == expected);
  CHECK(f.seen_by_query[0] == expected);
  CHECK(f.display->visible_mode() == expected);
  CHECK(f.dispi_read(dispi::kIndexXres) == 1024);

  // bochs_hw_setbase() after the plane update: same layout, no new event.
  f.dispi_write(dispi::kIndexVirtWidth, 1024);
  f.dispi_write(dispi::kIndexXOffset, 0);
  f.dispi_write(dispi::kIndexYOffset, 0);
  CHECK(f.events.size() == 1);

  // Page flip to a buffer further down: the window moves.
  f.dispi_write(dispi::kIndexYOffset, 768);
  REQUIRE(f.events.size() == 2);
  CHECK(f.events[1]->offset == 768ull * 4096);

  f.dispi_write(dispi::kIndexEnable, 0);
  REQUIRE(f.events.size() == 3);
  CHECK_FALSE(f.events[2].has_value());
}

TEST_CASE("bochs display: access widths on the DISPI window") {
  DisplayFixture f;
  // One 32-bit store covers XRES (0x502) and YRES (0x504).
  f.mmio_write<std::uint32_t>(BochsDisplay::kDispiOffset + 2, 800u | 600u << 16);
  CHECK(f.dispi_read(dispi::kIndexXres) == 800);
  CHECK(f.dispi_read(dispi::kIndexYres) == 600);
  CHECK(f.mmio_read<std::uint32_t>(BochsDisplay::kDispiOffset + 2) == (800u | 600u << 16));
  // A byte store changes one half of a register.
  f.mmio_write<std::uint8_t>(BochsDisplay::kDispiOffset + 2 * dispi::kIndexXres + 1, 0x04);
  CHECK(f.dispi_read(dispi::kIndexXres) == 0x0420);
  CHECK(f.mmio_read<std::uint8_t>(BochsDisplay::kDispiOffset) == 0xc5);
  CHECK(f.mmio_read<std::uint8_t>(BochsDisplay::kDispiOffset + 1) == 0xb0);
  // Past the last register and unassigned offsets read 0.
  CHECK(f.mmio_read<std::uint16_t>(BochsDisplay::kDispiOffset + 2 * dispi::kRegisterCount) == 0);
  CHECK(f.mmio_read<std::uint32_t>(0x800) == 0);
}

TEST_CASE("bochs display: DISPI through ports 0x1ce/0x1cf") {
  DisplayFixture f;
  f.outw(dispi::kIndexPort, dispi::kIndexId);
  CHECK(f.inw(dispi::kIndexPort) == dispi::kIndexId);
  CHECK(f.inw(dispi::kDataPort) == 0xb0c5);
  f.outw(dispi::kDataPort, 0xb0c2);  // firmware negotiating an older version
  CHECK(f.inw(dispi::kDataPort) == 0xb0c2);

  const auto set = [&](std::uint16_t index, std::uint16_t value) {
    f.outw(dispi::kIndexPort, index);
    f.outw(dispi::kDataPort, value);
  };
  // What QemuVideoDxe's mode set writes.
  set(dispi::kIndexEnable, 0);
  set(dispi::kIndexBpp, 32);
  set(dispi::kIndexXres, 800);
  set(dispi::kIndexYres, 600);
  set(dispi::kIndexVirtWidth, 800);
  set(dispi::kIndexVirtHeight, 600);
  set(dispi::kIndexXOffset, 0);
  set(dispi::kIndexYOffset, 0);
  set(dispi::kIndexBank, 0);
  set(dispi::kIndexEnable, dispi::kEnabled | dispi::kLfbEnabled);
  REQUIRE(f.events.size() == 1);
  CHECK(f.events[0] == DisplayMode{800, 600, 32, 3200, 0, false});

  f.outw(dispi::kIndexPort, dispi::kIndexVideoMemory64k);
  CHECK(f.inw(dispi::kDataPort) == 256);
  // An 8-bit read of the data port gives the low byte.
  std::array<std::uint8_t, 1> low{};
  REQUIRE(f.ports.read(dispi::kDataPort, low));
  CHECK(low[0] == 0x00);
  // Refused values through the ports too.
  set(dispi::kIndexBpp, 8);
  f.outw(dispi::kIndexPort, dispi::kIndexBpp);
  CHECK(f.inw(dispi::kDataPort) == 32);
  // An index beyond the registers reads 0 and ignores writes.
  set(0x40, 0x1234);
  CHECK(f.inw(dispi::kDataPort) == 0);
  CHECK(f.events.size() == 1);
}

TEST_CASE("bochs display: VGA attribute blanking (bochs_hw_blank)") {
  DisplayFixture f;
  f.linux_mode_set(640, 480);
  REQUIRE(f.events.size() == 1);
  const std::uint64_t vga = BochsDisplay::kVgaOffset;
  static_cast<void>(f.mmio_read<std::uint8_t>(vga + 0x1a));  // reset the flip-flop
  f.mmio_write<std::uint8_t>(vga, 0x00);                    // blank
  REQUIRE(f.events.size() == 2);
  CHECK_FALSE(f.events[1].has_value());
  CHECK_FALSE(f.display->visible_mode().has_value());
  static_cast<void>(f.mmio_read<std::uint8_t>(vga + 0x1a));
  f.mmio_write<std::uint8_t>(vga, 0x20);  // unblank
  REQUIRE(f.events.size() == 3);
  CHECK(f.events[2]->width == 640);

  // Index then data: an attribute register is written and reads back.
  static_cast<void>(f.mmio_read<std::uint8_t>(vga + 0x1a));
  f.mmio_write<std::uint8_t>(vga, 0x20 | 0x10);  // mode control register
  f.mmio_write<std::uint8_t>(vga, 0x41);
  CHECK(f.mmio_read<std::uint8_t>(vga + 0x01) == 0x41);
  CHECK(f.mmio_read<std::uint8_t>(vga) == 0x30);
  CHECK(f.mmio_read<std::uint8_t>(vga + 0x0c) == 0x01);  // misc output read-back
  // Input status alternates so a retrace poll terminates.
  const std::uint8_t a = f.mmio_read<std::uint8_t>(vga + 0x1a);
  const std::uint8_t b = f.mmio_read<std::uint8_t>(vga + 0x1a);
  CHECK(a != b);
  CHECK(f.events.size() == 3);
}

TEST_CASE("bochs display: QEMU extension registers") {
  DisplayFixture f;
  f.linux_mode_set(640, 480);
  CHECK(f.mmio_read<std::uint32_t>(BochsDisplay::kQextOffset) == 8);
  CHECK(f.mmio_read<std::uint32_t>(BochsDisplay::kQextByteOrderOffset) == 0x1e1e1e1e);
  f.mmio_write<std::uint32_t>(BochsDisplay::kQextByteOrderOffset, 0xbebebebe);
  CHECK(f.mmio_read<std::uint32_t>(BochsDisplay::kQextByteOrderOffset) == 0xbebebebe);
  REQUIRE(f.events.size() == 2);
  CHECK(f.events[1]->big_endian);
  f.mmio_write<std::uint32_t>(BochsDisplay::kQextByteOrderOffset, 0x12345678);  // ignored
  CHECK(f.mmio_read<std::uint32_t>(BochsDisplay::kQextByteOrderOffset) == 0xbebebebe);
  f.mmio_write<std::uint32_t>(BochsDisplay::kQextOffset, 0);  // the size is read-only
  CHECK(f.mmio_read<std::uint32_t>(BochsDisplay::kQextOffset) == 8);
  f.mmio_write<std::uint32_t>(BochsDisplay::kQextByteOrderOffset, 0x1e1e1e1e);
  CHECK_FALSE(f.display->visible_mode()->big_endian);
}

TEST_CASE("bochs display: EDID at BAR 2 offset 0") {
  DisplayFixture f;
  const EdidBlock edid = f.display->edid();
  for (std::size_t i = 0; i < edid.size(); ++i) {
    CHECK(f.mmio_read<std::uint8_t>(i) == edid[i]);
  }
  CHECK(f.mmio_read<std::uint64_t>(0) == 0x00ff'ffff'ffff'ff00ull);  // the header
  CHECK(edid_checksum(edid) == 0);
  CHECK(f.mmio_read<std::uint32_t>(0x80) == 0);
  CHECK(f.mmio_read<std::uint32_t>(0x3fc) == 0);
  f.mmio_write<std::uint32_t>(0, 0);  // read-only
  CHECK(f.mmio_read<std::uint8_t>(1) == 0xff);
}

TEST_CASE("bochs display: enabling clears the visible area unless NOCLEARMEM") {
  DisplayFixture f;
  std::memset(f.display->vram().data(), 0xaa, 4 << 20);
  f.linux_mode_set(1024, 768);
  const std::span<std::uint8_t> vram = f.display->vram();
  CHECK(vram[0] == 0);
  CHECK(vram[1024 * 768 * 4 - 1] == 0);
  CHECK(vram[1024 * 768 * 4] == 0xaa);

  f.dispi_write(dispi::kIndexEnable, 0);
  std::memset(vram.data(), 0xbb, 16);
  f.dispi_write(dispi::kIndexEnable, dispi::kEnabled | dispi::kLfbEnabled | dispi::kNoClearMem);
  CHECK(vram[0] == 0xbb);
}

TEST_CASE("bochs display: direct boot starts in a mode screen_info can describe") {
  DisplayFixture f;
  f.display->vram()[0] = 0x77;
  f.display->set_initial_mode(1280, 800);
  REQUIRE(f.events.size() == 1);
  CHECK(f.events[0] == DisplayMode{1280, 800, 32, 5120, 0, false});
  CHECK(f.display->vram()[0] == 0x77);  // what was drawn stays
  // A driver reading the registers sees the same mode.
  CHECK(f.dispi_read(dispi::kIndexXres) == 1280);
  CHECK(f.dispi_read(dispi::kIndexYres) == 800);
  CHECK(f.dispi_read(dispi::kIndexBpp) == 32);
  CHECK((f.dispi_read(dispi::kIndexEnable) & dispi::kEnabled) != 0);

  const FramebufferDescription fb = f.display->boot_framebuffer(f.bar(0));
  CHECK(fb.base == f.bar(0));
  CHECK(fb.size == k16MiB);
  CHECK(fb.width == 1280);
  CHECK(fb.height == 800);
  CHECK(fb.stride == 5120);
  std::vector<std::uint8_t> boot_params(4096);
  fill_screen_info(boot_params, fb);
  CHECK(boot_params[screen_info::kOrigVideoIsVga] == screen_info::kVideoTypeEfi);

  CHECK(test::expect_error([&] { f.display->set_initial_mode(4096, 4096); }).code ==
        ErrorCode::InvalidConfig);
  f.dispi_write(dispi::kIndexEnable, 0);
  CHECK(test::expect_error([&] { static_cast<void>(f.display->boot_framebuffer(f.bar(0))); }).code ==
        ErrorCode::InvalidState);
}

TEST_CASE("bochs display: save and restore") {
  DisplayFixture f;
  f.linux_mode_set(1024, 768);
  f.dispi_write(dispi::kIndexYOffset, 100);
  f.mmio_write<std::uint32_t>(BochsDisplay::kQextByteOrderOffset, 0xbebebebe);
  f.outw(dispi::kIndexPort, dispi::kIndexXres);
  const BochsDisplayState state = f.display->save();
  CHECK(state.vram_size == k16MiB);
  CHECK(state.edid == EdidConfig{});

  DisplayFixture g;
  g.mapper.calls.clear();
  g.display->restore(state);
  CHECK(g.display->visible_mode() == f.display->visible_mode());
  REQUIRE_FALSE(g.events.empty());
  CHECK(g.events.back() == f.display->visible_mode());
  CHECK(g.inw(dispi::kDataPort) == 1024);  // the port index came back too
  CHECK(g.display->save().dispi == state.dispi);
  CHECK(g.display->save().vga == state.vga);
  // Config space came back: BARs where they were, and the slot re-mapped.
  CHECK(g.bar(0) == f.bar(0));
  CHECK(g.display->framebuffer_mapped_at() == f.bar(0));

  SUBCASE("another VRAM size is refused") {
    DisplayFixture small(BochsDisplayConfig{8ull << 20, {}});
    CHECK(test::expect_error([&] { small.display->restore(state); }).code == ErrorCode::InvalidState);
  }
  SUBCASE("the EDID choice is part of the state") {
    BochsDisplayState other = state;
    other.edid = EdidConfig{1024, 768};
    g.display->restore(other);
    CHECK(g.display->edid() == build_edid(EdidConfig{1024, 768}, k16MiB));
  }
}

TEST_CASE("bochs display: configuration is checked") {
  CHECK(test::expect_error([] { BochsDisplay display(BochsDisplayConfig{3ull << 20, {}}); }).code ==
        ErrorCode::InvalidConfig);
  CHECK(test::expect_error([] { BochsDisplay display(BochsDisplayConfig{512ull << 20, {}}); }).code ==
        ErrorCode::InvalidConfig);
  CHECK(test::expect_error([] {
          BochsDisplay display(BochsDisplayConfig{k16MiB, EdidConfig{5000, 5000}});
        }).code == ErrorCode::InvalidConfig);
  // A small VRAM with a preferred mode that does not fit.
  CHECK(test::expect_error([] {
          BochsDisplay display(BochsDisplayConfig{1ull << 20, EdidConfig{1280, 800}});
        }).code == ErrorCode::InvalidConfig);
  const auto big = std::make_shared<BochsDisplay>(BochsDisplayConfig{64ull << 20, EdidConfig{1920, 1080}});
  CHECK(big->bar_definition(0).size == 64ull << 20);
  CHECK(big->bar_definition(0).prefetchable);
  CHECK(big->bar_definition(2).size == 0x1000);
}
