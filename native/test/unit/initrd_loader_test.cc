#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "arch/x86/bzimage_loader.h"
#include "arch/x86/initrd_loader.h"
#include "arch/x86/kernel_file.h"
#include "arch/x86/memory_layout.h"
#include "support/image_builders.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::x86;
using nestbox::test::contains;
using nestbox::test::expect_error;

namespace {

std::vector<std::uint8_t> pattern(std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 13 + 1);
  return bytes;
}

LoadedKernel kernel_with_header(std::uint32_t initrd_addr_max, std::uint64_t load_end) {
  setup_header header{};
  header.version = 0x020f;
  header.initrd_addr_max = initrd_addr_max;
  return LoadedKernel{KernelFormat::BzImage, 0x100200, 0x100000, load_end, header};
}

LoadedKernel elf_kernel(std::uint64_t load_end) {
  return LoadedKernel{KernelFormat::Elf, 0x1000000, 0x1000000, load_end, std::nullopt};
}

}  // namespace

TEST_CASE("initrd: placed page aligned at the top of RAM below the PCI hole") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(64ull << 20));
  const auto image = pattern(10000);
  const LoadedInitrd initrd = load_initrd(image, kernel_with_header(0x7fffffff, 0x400000), memory);
  CHECK(initrd.size == 10000);
  CHECK(initrd.address % 4096 == 0);
  CHECK(initrd.address + initrd.size <= 64ull << 20);
  CHECK(initrd.address + initrd.size > (64ull << 20) - 4096);  // as high as it goes
  std::vector<std::uint8_t> loaded(image.size());
  memory.read(initrd.address, loaded);
  CHECK(loaded == image);
}

TEST_CASE("initrd: the kernel's initrd_addr_max is the ceiling") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(256ull << 20));
  const LoadedInitrd initrd =
      load_initrd(pattern(8192), kernel_with_header(0x3fffffff >> 2, 0x400000), memory);
  CHECK(initrd.address + initrd.size <= 0x10000000);
  CHECK(initrd.address == 0x0fffe000);

  // Old protocols and an undeclared limit fall back to the legacy ceiling.
  LoadedKernel old = kernel_with_header(0, 0x400000);
  CHECK(initrd_address_max(old) == kLegacyInitrdAddressMax);
  old.linux_setup_header->version = 0x0202;
  old.linux_setup_header->initrd_addr_max = 0x7fffffff;
  CHECK(initrd_address_max(old) == kLegacyInitrdAddressMax);
  CHECK(initrd_address_max(elf_kernel(0x2000000)) == kDefaultInitrdAddressMax);
}

TEST_CASE("initrd: with RAM above 4 GiB it still goes below the PCI hole") {
  const GuestMemory memory = GuestMemory::allocate(
      {{0, 3ull << 30}, {4ull << 30, 16ull << 20}});  // the hole, then a little high RAM
  LoadedKernel kernel = kernel_with_header(0xffffffff, 0x400000);
  const LoadedInitrd initrd = load_initrd(pattern(4096), kernel, memory);
  CHECK(initrd.address == (3ull << 30) - 4096);
}

TEST_CASE("initrd: never overlaps the kernel's footprint; too big is a clear error") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  // Exactly the room between the kernel's end (24 MiB) and the top of RAM (32 MiB).
  const LoadedInitrd fits = load_initrd(pattern(8u << 20), elf_kernel(24ull << 20), memory);
  CHECK(fits.address == 24ull << 20);

  const auto error = expect_error(
      [&] { load_initrd(pattern((8u << 20) + 1), elf_kernel(24ull << 20), memory); });
  CHECK(error.code == ErrorCode::KernelTooLarge);
  CHECK(contains(error.message, "initrd (9 MiB) does not fit below 0x2000000 with 32 MiB of RAM"));

  // A kernel that already fills RAM leaves no room at all.
  CHECK(expect_error([&] { load_initrd(pattern(16), elf_kernel(40ull << 20), memory); }).code ==
        ErrorCode::KernelTooLarge);
}

TEST_CASE("initrd: an empty image is refused") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(32ull << 20));
  const std::vector<std::uint8_t> empty;
  const auto error = expect_error([&] { load_initrd(empty, elf_kernel(0x2000000), memory); });
  CHECK(error.code == ErrorCode::InvalidConfig);
  CHECK(contains(error.message, "empty"));
}

TEST_CASE("initrd: stays clear of a bzImage that decompresses at 16 MiB") {
  test::BzImageSpec spec;
  spec.pref_address = 0x1000000;
  spec.init_size = 0x1000000;
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(40ull << 20));
  const LoadedKernel kernel = load_bzimage(test::build_bzimage(spec), memory);
  CHECK(kernel.load_end == 0x2000000);
  CHECK(load_initrd(pattern(8u << 20), kernel, memory).address == 0x2000000);
  CHECK(expect_error([&] { load_initrd(pattern((8u << 20) + 4096), kernel, memory); }).code ==
        ErrorCode::KernelTooLarge);
}

TEST_CASE("initrd file: missing and empty files say so") {
  const auto missing = expect_error([] { read_initrd_file("/nonexistent/initramfs.cpio"); });
  CHECK(missing.code == ErrorCode::KernelNotFound);
  CHECK(missing.message == "initrd file not found: /nonexistent/initramfs.cpio");
  CHECK(contains(expect_error([] { read_initrd_file("/tmp"); }).message,
                 "is a directory, not an initrd file"));
  CHECK(contains(expect_error([] { read_initrd_file("/dev/null"); }).message,
                 "not a regular file"));
}
