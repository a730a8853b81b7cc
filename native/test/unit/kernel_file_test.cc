#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "arch/x86/flat_loader.h"
#include "arch/x86/kernel_file.h"
#include "arch/x86/kernel_loader.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::x86;
using nestbox::test::contains;
using nestbox::test::expect_error;

namespace {

// A private temporary directory, removed with its files at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/nestbox-unit-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& content) const {
    const std::string file = path + "/" + name;
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }
};

}  // namespace

TEST_CASE("kernel file: each way reading can fail has its own error") {
  const TempDir dir;
  const auto missing = expect_error([&] { read_kernel_file(dir.path + "/vmlinuz"); });
  CHECK(missing.code == ErrorCode::KernelNotFound);
  CHECK(contains(missing.message, "kernel file not found: " + dir.path + "/vmlinuz"));

  const auto directory = expect_error([&] { read_kernel_file(dir.path); });
  CHECK(directory.code == ErrorCode::KernelUnreadable);
  CHECK(contains(directory.message, "directory"));

  const std::string empty = dir.write("empty", "");
  CHECK(expect_error([&] { read_kernel_file(empty); }).code == ErrorCode::NotAKernel);

  CHECK(expect_error([&] { read_kernel_file(""); }).code == ErrorCode::InvalidConfig);

  const std::string content = dir.write("kernel", std::string("\x7f" "ELF rest", 9));
  CHECK(read_kernel_file(content).size() == 9);
}

TEST_CASE("flat binaries load at 1 MiB and start at their first byte") {
  const GuestMemory memory = GuestMemory::allocate({{0, 16 << 20}});
  const std::vector<std::uint8_t> code{0xfa, 0xf4};  // cli; hlt
  const LoadedKernel kernel = load_kernel(code, KernelFormat::Flat, memory);
  CHECK(kernel.format == KernelFormat::Flat);
  CHECK(kernel.entry_point == 0x100000);
  CHECK(memory.read_object<std::uint16_t>(0x100000) == 0xf4fa);

  const GuestMemory small = GuestMemory::allocate({{0, 0x101000}});
  const std::vector<std::uint8_t> big(0x2000, 0x90);
  CHECK(expect_error([&] { load_kernel(big, KernelFormat::Flat, small); }).code ==
        ErrorCode::KernelTooLarge);
}

TEST_CASE("an explicit format is enforced, not guessed") {
  const GuestMemory memory = GuestMemory::allocate({{0, 16 << 20}});
  const std::vector<std::uint8_t> code{0xfa, 0xf4};
  CHECK(expect_error([&] { load_kernel(code, KernelFormat::Elf, memory); }).code ==
        ErrorCode::NotAKernel);
  CHECK(expect_error([&] { load_kernel(code, KernelFormat::BzImage, memory); }).code ==
        ErrorCode::NotAKernel);
  CHECK(expect_error([&] { load_kernel(code, KernelFormat::Auto, memory); }).code ==
        ErrorCode::NotAKernel);
}

TEST_CASE("kernel format names round-trip") {
  for (KernelFormat format :
       {KernelFormat::Auto, KernelFormat::Flat, KernelFormat::Elf, KernelFormat::BzImage}) {
    CHECK(parse_kernel_format(kernel_format_name(format)) == format);
  }
  CHECK_FALSE(parse_kernel_format("zimage").has_value());
}
