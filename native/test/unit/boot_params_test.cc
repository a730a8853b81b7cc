#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "arch/x86/boot_params_builder.h"
#include "arch/x86/bzimage_loader.h"
#include "arch/x86/e820.h"
#include "arch/x86/memory_layout.h"
#include "support/image_builders.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::x86;
using nestbox::test::expect_error;

namespace {

template <typename T>
T at(const std::uint8_t* page, std::size_t offset) {
  T value;
  std::memcpy(&value, page + offset, sizeof value);
  return value;
}

}  // namespace

TEST_CASE("e820: low RAM, the reserved BIOS area, then RAM above 1 MiB") {
  const auto regions = layout::guest_ram_regions(256ull << 20);
  REQUIRE(regions.size() == 1);
  const auto map = build_e820_map(regions);
  REQUIRE(map.size() == 3);
  CHECK(map[0].address == 0);
  CHECK(map[0].size == 0x9fc00);
  CHECK(map[0].type == E820Type::Ram);
  CHECK(map[1].address == 0x9fc00);
  CHECK(map[1].address + map[1].size == 0x100000);
  CHECK(map[1].type == E820Type::Reserved);
  CHECK(map[2].address == 0x100000);
  CHECK(map[2].address + map[2].size == 256ull << 20);
  CHECK(map[2].type == E820Type::Ram);
}

TEST_CASE("e820: RAM beyond 3 GiB moves above the 4 GiB boundary") {
  const auto regions = layout::guest_ram_regions(5ull << 30);
  REQUIRE(regions.size() == 2);
  CHECK(regions[0].size == 3ull << 30);
  CHECK(regions[1].guest_address == 4ull << 30);
  CHECK(regions[1].size == 2ull << 30);
  const auto map = build_e820_map(regions);
  REQUIRE(map.size() == 4);
  CHECK(map[2].address + map[2].size == 3ull << 30);
  CHECK(map[3].address == 4ull << 30);
  CHECK(map[3].size == 2ull << 30);
  // Exactly 3 GiB stays in one region.
  CHECK(layout::guest_ram_regions(3ull << 30).size() == 1);
}

TEST_CASE("e820: RAM that does not reach past 1 MiB is refused") {
  const std::vector<GuestRamRegion> tiny{{0, 0x100000}};
  CHECK(expect_error([&] { build_e820_map(tiny); }).code == ErrorCode::InvalidConfig);
}

TEST_CASE("boot_params: fields sit at the offsets the boot protocol documents") {
  // The kernel reads raw offsets; the struct must match boot.rst exactly.
  CHECK(offsetof(boot_params, e820_entries) == 0x1e8);
  CHECK(offsetof(boot_params, hdr) == 0x1f1);
  CHECK(offsetof(boot_params, e820_table) == 0x2d0);
  CHECK(offsetof(boot_params, ext_cmd_line_ptr) == 0x0c8);
  CHECK(offsetof(boot_params, hdr) + offsetof(setup_header, cmd_line_ptr) == 0x228);
  CHECK(offsetof(boot_params, hdr) + offsetof(setup_header, type_of_loader) == 0x210);
  CHECK(offsetof(boot_params, hdr) + offsetof(setup_header, cmdline_size) == 0x238);
  CHECK(offsetof(boot_params, hdr) + offsetof(setup_header, init_size) == 0x260);
}

TEST_CASE("boot_params: the zero page and command line are written where RSI will point") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  const auto e820 = build_e820_map(memory.regions());
  const std::string command_line = "console=ttyS0 earlyprintk=serial";

  test::BzImageSpec spec;
  spec.cmdline_size = 2047;
  const auto image = test::build_bzimage(spec);
  setup_header header{};
  std::memcpy(&header, image.data() + 0x1f1, sizeof header);

  write_boot_params(memory, {header, command_line, e820});

  const std::uint8_t* page = memory.span(layout::kBootParamsAddress, 4096).data();
  CHECK(at<std::uint16_t>(page, 0x1fe) == 0xaa55);
  CHECK(at<std::uint32_t>(page, 0x202) == 0x53726448);
  CHECK(at<std::uint16_t>(page, 0x206) == 0x020f);
  CHECK(at<std::uint8_t>(page, 0x210) == 0xff);  // type_of_loader: undefined
  CHECK((at<std::uint8_t>(page, 0x211) & LOADED_HIGH) != 0);
  CHECK(at<std::uint32_t>(page, 0x228) == layout::kCommandLineAddress);
  CHECK(at<std::uint32_t>(page, 0x0c8) == 0);  // ext_cmd_line_ptr: below 4 GiB
  CHECK(at<std::uint32_t>(page, 0x238) == 2047);
  CHECK(at<std::uint8_t>(page, 0x1e8) == e820.size());
  for (std::size_t i = 0; i < e820.size(); ++i) {
    const std::size_t entry = 0x2d0 + i * 20;  // boot_e820_entry is packed: 8 + 8 + 4
    CHECK(at<std::uint64_t>(page, entry) == e820[i].address);
    CHECK(at<std::uint64_t>(page, entry + 8) == e820[i].size);
    CHECK(at<std::uint32_t>(page, entry + 16) == static_cast<std::uint32_t>(e820[i].type));
  }

  std::string written(command_line.size() + 1, '?');
  memory.read(layout::kCommandLineAddress,
              {reinterpret_cast<std::uint8_t*>(written.data()), written.size()});
  CHECK(written == command_line + '\0');
}

TEST_CASE("boot_params: kernels without a header get a minimal valid one") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  const auto e820 = build_e820_map(memory.regions());
  write_boot_params(memory, {std::nullopt, "", e820});
  const auto params = memory.read_object<boot_params>(layout::kBootParamsAddress);
  CHECK(params.hdr.boot_flag == 0xaa55);
  CHECK(params.hdr.header == 0x53726448);
  CHECK(params.hdr.type_of_loader == 0xff);
  CHECK(params.hdr.cmd_line_ptr == layout::kCommandLineAddress);
  CHECK(memory.read_object<std::uint8_t>(layout::kCommandLineAddress) == 0);
}

TEST_CASE("boot_params: a command line longer than the kernel accepts is refused") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  const auto e820 = build_e820_map(memory.regions());
  setup_header header{};
  header.version = 0x020f;
  header.cmdline_size = 16;
  CHECK_NOTHROW(write_boot_params(memory, {header, std::string(16, 'a'), e820}));
  CHECK(expect_error([&] { write_boot_params(memory, {header, std::string(17, 'a'), e820}); })
            .code == ErrorCode::InvalidConfig);
  const std::string with_nul("a\0b", 3);
  CHECK(expect_error([&] { write_boot_params(memory, {std::nullopt, with_nul, e820}); }).code ==
        ErrorCode::InvalidConfig);
  // Protocols before 2.06 did not declare a limit: 255 applies.
  header.version = 0x0205;
  CHECK(max_command_line_length(header) == 255);
}

TEST_CASE("boot_params: the initrd goes in ramdisk_image/size and their ext_ halves") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  const auto e820 = build_e820_map(memory.regions());
  BootParamsInputs inputs{std::nullopt, "", e820};
  inputs.initrd = LoadedInitrd{0x1234'5678'9000ull, 0x2'0000'1000ull};
  const boot_params params = build_boot_params(inputs, layout::kCommandLineAddress);
  CHECK(params.hdr.ramdisk_image == 0x5678'9000u);
  CHECK(params.ext_ramdisk_image == 0x1234u);
  CHECK(params.hdr.ramdisk_size == 0x1000u);
  CHECK(params.ext_ramdisk_size == 0x2u);

  // Without an initrd both halves are zero, whatever the kernel file said.
  test::BzImageSpec spec;
  auto image = test::build_bzimage(spec);
  setup_header header{};
  std::memcpy(&header, image.data() + 0x1f1, sizeof header);
  header.ramdisk_image = 0xdead;
  header.ramdisk_size = 0xbeef;
  const boot_params none = build_boot_params({header, "", e820}, layout::kCommandLineAddress);
  CHECK(none.hdr.ramdisk_image == 0);
  CHECK(none.hdr.ramdisk_size == 0);
  CHECK(none.ext_ramdisk_image == 0);
}

TEST_CASE("boot_params: the ACPI RSDP address is at 0x070 for every protocol") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  const auto e820 = build_e820_map(memory.regions());
  CHECK(offsetof(boot_params, acpi_rsdp_addr) == 0x070);
  BootParamsInputs inputs{std::nullopt, "", e820};
  inputs.acpi_rsdp_address = 0xf0000;
  write_boot_params(memory, inputs);
  const std::uint8_t* page = memory.span(layout::kBootParamsAddress, 4096).data();
  CHECK(at<std::uint64_t>(page, 0x070) == 0xf0000);
  CHECK(build_boot_params({std::nullopt, "", e820}, 0).acpi_rsdp_addr == 0);
}

TEST_CASE("boot_params: loader fields per boot.rst (heap, loader type, 64-bit command line)") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  const auto e820 = build_e820_map(memory.regions());
  setup_header header{};
  header.version = 0x020c;
  header.loadflags = LOADED_HIGH;
  header.type_of_loader = 0x12;
  const boot_params params = build_boot_params({header, "x", e820}, 0x1'0002'0000ull);
  CHECK(params.hdr.type_of_loader == 0xff);
  CHECK((params.hdr.loadflags & CAN_USE_HEAP) != 0);
  CHECK((params.hdr.loadflags & LOADED_HIGH) != 0);
  CHECK((params.hdr.loadflags & KEEP_SEGMENTS) == 0);
  CHECK(params.hdr.heap_end_ptr == 0xde00);
  CHECK(params.hdr.cmd_line_ptr == 0x0002'0000u);
  CHECK(params.ext_cmd_line_ptr == 1u);
  CHECK(params.sentinel == 0);  // nonzero would make the kernel wipe fields it does not trust

  // The header made up for ELF and flat kernels declares what we fill in.
  const boot_params synthesized = build_boot_params({std::nullopt, "", e820}, 0);
  CHECK(synthesized.hdr.version == 0x020f);
  CHECK((synthesized.hdr.xloadflags & XLF_KERNEL_64) != 0);
  CHECK(synthesized.hdr.initrd_addr_max == 0x7fffffff);
  CHECK(synthesized.hdr.cmdline_size == layout::kCommandLineCapacity - 1);
}

TEST_CASE("e820: sorted, non-overlapping, BIOS area reserved, no RAM in the PCI hole") {
  for (const std::uint64_t mib : {16ull, 512ull, 3072ull, 3073ull, 8192ull}) {
    CAPTURE(mib);
    const auto map = build_e820_map(layout::guest_ram_regions(mib << 20));
    std::uint64_t ram = 0;
    for (std::size_t i = 0; i < map.size(); ++i) {
      if (i > 0) {
        CHECK(map[i].address >= map[i - 1].address + map[i - 1].size);
      }
      if (map[i].type == E820Type::Ram) {
        ram += map[i].size;
        const bool in_hole = map[i].address < layout::kPciHoleEnd &&
                             map[i].address + map[i].size > layout::kPciHoleStart;
        CHECK_FALSE(in_hole);
        const bool in_bios = map[i].address < 0x100000 && map[i].address + map[i].size > 0x9fc00;
        CHECK_FALSE(in_bios);
      }
    }
    CHECK(ram == (mib << 20) - (0x100000 - 0x9fc00));
    const bool reserved_bios = std::any_of(map.begin(), map.end(), [](const E820Entry& entry) {
      return entry.type == E820Type::Reserved && entry.address == 0x9fc00 &&
             entry.address + entry.size == 0x100000;
    });
    CHECK(reserved_bios);
    CHECK((map.back().address + map.back().size > layout::kPciHoleEnd) == (mib > 3072));
  }
}
