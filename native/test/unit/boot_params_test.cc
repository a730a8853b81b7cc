#include <doctest/doctest.h>

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
