#include <doctest/doctest.h>

#include <cstring>

#include "arch/x86/bzimage_loader.h"
#include "arch/x86/kernel_loader.h"
#include "support/image_builders.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::x86;
using nestbox::test::BzImageSpec;
using nestbox::test::build_bzimage;
using nestbox::test::contains;
using nestbox::test::expect_error;

namespace {

GuestMemory memory_of_mib(std::uint64_t mib) { return GuestMemory::allocate({{0, mib << 20}}); }

std::vector<std::uint8_t> numbered_payload(std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 7);
  return bytes;
}

}  // namespace

TEST_CASE("bzImage: protected-mode code lands at 1 MiB and entry is startup_64") {
  BzImageSpec spec;
  spec.protected_mode = numbered_payload(0x1234);
  spec.init_size = 0x200000;
  spec.cmdline_size = 2047;
  spec.relocatable_kernel = 0;  // decompresses at pref_address, 1 MiB
  const auto image = build_bzimage(spec);
  const GuestMemory memory = memory_of_mib(16);

  const LoadedKernel kernel = load_bzimage(image, memory);
  CHECK(kernel.format == KernelFormat::BzImage);
  CHECK(kernel.entry_point == 0x100200);
  CHECK(kernel.load_start == 0x100000);
  CHECK(kernel.load_end == 0x100000 + 0x200000);  // init_size, not just the file part
  std::vector<std::uint8_t> loaded(spec.protected_mode.size());
  memory.read(0x100000, loaded);
  CHECK(loaded == spec.protected_mode);
  // Nothing of the real-mode setup is loaded below 1 MiB.
  CHECK(memory.read_object<std::uint64_t>(0x90000) == 0);

  REQUIRE(kernel.linux_setup_header.has_value());
  CHECK(kernel.linux_setup_header->version == 0x020f);
  CHECK(kernel.linux_setup_header->cmdline_size == 2047);
  CHECK(kernel.linux_setup_header->init_size == 0x200000);
}

TEST_CASE("bzImage: setup_sects 0 means 4") {
  BzImageSpec spec;
  spec.setup_sects = 0;
  spec.protected_mode = numbered_payload(64);
  const GuestMemory memory = memory_of_mib(16);
  load_bzimage(build_bzimage(spec), memory);
  CHECK(memory.read_object<std::uint8_t>(0x100001) == 7);
}

TEST_CASE("bzImage: wrong magic is not a kernel") {
  const GuestMemory memory = memory_of_mib(16);
  auto image = build_bzimage({});
  std::memcpy(image.data() + 0x202, "HdrX", 4);
  const auto error = expect_error([&] { load_bzimage(image, memory); });
  CHECK(error.code == ErrorCode::NotAKernel);
  CHECK(contains(error.message, "HdrS"));
  CHECK_FALSE(has_linux_boot_header(image));

  auto no_signature = build_bzimage({});
  no_signature[0x1fe] = 0;
  CHECK(expect_error([&] { load_bzimage(no_signature, memory); }).code == ErrorCode::NotAKernel);
}

TEST_CASE("bzImage: boot protocol older than 2.12 is refused") {
  BzImageSpec spec;
  spec.version = 0x020b;
  const GuestMemory memory = memory_of_mib(16);
  const auto error = expect_error([&] { load_bzimage(build_bzimage(spec), memory); });
  CHECK(error.code == ErrorCode::UnsupportedKernel);
  CHECK(contains(error.message, "2.11"));
  CHECK(contains(error.message, "2.12"));
  spec.version = 0x020c;
  CHECK_NOTHROW(load_bzimage(build_bzimage(spec), memory));
}

TEST_CASE("bzImage: a kernel without a 64-bit entry is refused") {
  BzImageSpec spec;
  spec.xloadflags = 0;
  const GuestMemory memory = memory_of_mib(16);
  const auto error = expect_error([&] { load_bzimage(build_bzimage(spec), memory); });
  CHECK(error.code == ErrorCode::UnsupportedKernel);
  CHECK(contains(error.message, "XLF_KERNEL_64"));
}

TEST_CASE("bzImage: a kernel that does not load high is refused") {
  BzImageSpec spec;
  spec.loadflags = 0;
  const GuestMemory memory = memory_of_mib(16);
  CHECK(expect_error([&] { load_bzimage(build_bzimage(spec), memory); }).code ==
        ErrorCode::UnsupportedKernel);
}

TEST_CASE("bzImage: truncated files are refused at every stage") {
  const GuestMemory memory = memory_of_mib(16);
  const auto image = build_bzimage({});

  // Inside the header.
  const std::vector<std::uint8_t> header_cut(image.begin(), image.begin() + 0x240);
  CHECK(contains(expect_error([&] { load_bzimage(header_cut, memory); }).message,
                 "setup header"));
  // Inside the real-mode setup.
  const std::vector<std::uint8_t> setup_cut(image.begin(), image.begin() + 0x700);
  CHECK(contains(expect_error([&] { load_bzimage(setup_cut, memory); }).message, "truncated"));
  // Inside the protected-mode kernel that syssize declares.
  const std::vector<std::uint8_t> kernel_cut(image.begin(), image.end() - 16);
  const auto error = expect_error([&] { load_bzimage(kernel_cut, memory); });
  CHECK(error.code == ErrorCode::NotAKernel);
  CHECK(contains(error.message, "truncated"));
  // Too short to even carry the magic.
  const std::vector<std::uint8_t> tiny(image.begin(), image.begin() + 0x100);
  CHECK(expect_error([&] { load_bzimage(tiny, memory); }).code == ErrorCode::NotAKernel);
}

TEST_CASE("bzImage: a kernel whose init_size exceeds RAM is too large") {
  BzImageSpec spec;
  spec.init_size = 32u << 20;
  const GuestMemory memory = memory_of_mib(16);
  const auto error = expect_error([&] { load_bzimage(build_bzimage(spec), memory); });
  CHECK(error.code == ErrorCode::KernelTooLarge);
  CHECK(memory.read_object<std::uint64_t>(0x100000) == 0);  // nothing was written
}

TEST_CASE("kernel format detection recognises bzImage and ELF, never guesses flat") {
  CHECK(detect_kernel_format(build_bzimage({})) == KernelFormat::BzImage);
  const std::vector<std::uint8_t> elf_magic{0x7f, 'E', 'L', 'F', 2, 1, 1};
  CHECK(detect_kernel_format(elf_magic) == KernelFormat::Elf);
  const std::string text = "#!/bin/sh\necho this is a shell script\n";
  const std::vector<std::uint8_t> script(text.begin(), text.end());
  const auto error = expect_error([&] { (void)detect_kernel_format(script); });
  CHECK(error.code == ErrorCode::NotAKernel);
  CHECK(contains(error.message, "flat"));
}

TEST_CASE("bzImage: the footprint covers where a relocatable kernel decompresses") {
  // A Debian-like kernel: relocatable, 2 MiB aligned, linked for 16 MiB.
  BzImageSpec spec;
  spec.relocatable_kernel = 1;
  spec.kernel_alignment = 0x200000;
  spec.pref_address = 0x1000000;
  spec.init_size = 0x3f98000;
  const GuestMemory memory = memory_of_mib(128);
  const LoadedKernel kernel = load_bzimage(build_bzimage(spec), memory);
  CHECK(kernel.load_start == 0x100000);
  CHECK(kernel.load_end == 0x1000000 + 0x3f98000);

  // Linked below its aligned load address: it decompresses at 1 MiB rounded up to 2 MiB.
  spec.pref_address = 0x100000;
  spec.init_size = 0x100000;
  CHECK(load_bzimage(build_bzimage(spec), memory).load_end == 0x200000 + 0x100000);

  // Not relocatable: exactly at pref_address.
  spec.relocatable_kernel = 0;
  spec.pref_address = 0x400000;
  CHECK(load_bzimage(build_bzimage(spec), memory).load_end == 0x400000 + 0x100000);

  // The whole range must be RAM: 64 MiB is not enough for the Debian-like one.
  const GuestMemory small = memory_of_mib(64);
  BzImageSpec debian = spec;
  debian.relocatable_kernel = 1;
  debian.pref_address = 0x1000000;
  debian.init_size = 0x3f98000;
  const auto error = expect_error([&] { load_bzimage(build_bzimage(debian), small); });
  CHECK(error.code == ErrorCode::KernelTooLarge);
  CHECK(contains(error.message, "0x1000000"));
}

TEST_CASE("bzImage: absurd alignment, pref_address and payload fields are refused") {
  const GuestMemory memory = memory_of_mib(16);
  BzImageSpec spec;
  spec.kernel_alignment = 0x300000;  // not a power of two
  CHECK(contains(expect_error([&] { load_bzimage(build_bzimage(spec), memory); }).message,
                 "kernel_alignment"));
  spec.kernel_alignment = 0;
  CHECK(expect_error([&] { load_bzimage(build_bzimage(spec), memory); }).code ==
        ErrorCode::NotAKernel);

  BzImageSpec far;
  far.relocatable_kernel = 0;
  far.pref_address = 0xffffffffffff0000ull;  // would overflow any sum
  CHECK(contains(expect_error([&] { load_bzimage(build_bzimage(far), memory); }).message,
                 "pref_address"));

  BzImageSpec payload;
  payload.payload_offset = 0x300;
  payload.payload_length = 0x200;  // the protected-mode part is only 0x400 bytes
  const auto error = expect_error([&] { load_bzimage(build_bzimage(payload), memory); });
  CHECK(error.code == ErrorCode::NotAKernel);
  CHECK(contains(error.message, "payload"));
  payload.payload_offset = 0xffffffff;
  CHECK(expect_error([&] { load_bzimage(build_bzimage(payload), memory); }).code ==
        ErrorCode::NotAKernel);
  payload.payload_offset = 0x200;
  CHECK_NOTHROW(load_bzimage(build_bzimage(payload), memory));
}
