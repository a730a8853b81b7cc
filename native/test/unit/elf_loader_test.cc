#include <doctest/doctest.h>

#include <elf.h>

#include <cstring>

#include "arch/x86/elf_loader.h"
#include "support/image_builders.h"
#include "test_helpers.h"

using namespace nestbox;
using namespace nestbox::x86;
using nestbox::test::build_elf;
using nestbox::test::contains;
using nestbox::test::ElfSpec;
using nestbox::test::expect_error;

namespace {

GuestMemory memory_of_mib(std::uint64_t mib) { return GuestMemory::allocate({{0, mib << 20}}); }

// A vmlinux-like image: linked high, loaded at 2 MiB, with a bss tail.
ElfSpec kernel_like() {
  return ElfSpec{0x200010,
                 {{0x200000, 0xffffffff80200000, {1, 2, 3, 4, 5, 6, 7, 8}, 0x2000},
                  {0x300000, 0xffffffff80300000, {9, 9}, 0x10}}};
}

template <typename T>
void patch(std::vector<std::uint8_t>& image, std::size_t offset, T value) {
  std::memcpy(image.data() + offset, &value, sizeof value);
}

std::size_t phdr_field(std::size_t index, std::size_t field_offset) {
  return sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr) + field_offset;
}

}  // namespace

TEST_CASE("ELF: segments load at their physical addresses, bss is zeroed") {
  const GuestMemory memory = memory_of_mib(16);
  memory.write_object(0x200100, std::uint64_t{0xdeadbeef});  // stale bytes in the bss
  const LoadedKernel kernel = load_elf_kernel(build_elf(kernel_like()), memory);
  CHECK(kernel.format == KernelFormat::Elf);
  CHECK(kernel.entry_point == 0x200010);
  CHECK(kernel.load_start == 0x200000);
  CHECK(kernel.load_end == 0x300010);
  CHECK(memory.read_object<std::uint64_t>(0x200000) == 0x0807060504030201);
  CHECK(memory.read_object<std::uint64_t>(0x200100) == 0);
  CHECK(memory.read_object<std::uint16_t>(0x300000) == 0x0909);
  CHECK_FALSE(kernel.linux_setup_header.has_value());
}

TEST_CASE("ELF: a virtual entry point is translated to its physical address") {
  ElfSpec spec = kernel_like();
  spec.entry = 0xffffffff80200004;
  const GuestMemory memory = memory_of_mib(16);
  CHECK(load_elf_kernel(build_elf(spec), memory).entry_point == 0x200004);
}

TEST_CASE("ELF: malformed headers are refused with the reason") {
  const GuestMemory memory = memory_of_mib(16);
  const auto good = build_elf(kernel_like());

  SUBCASE("not ELF at all") {
    std::vector<std::uint8_t> image(good);
    image[1] = 'X';
    CHECK(expect_error([&] { load_elf_kernel(image, memory); }).code == ErrorCode::NotAKernel);
  }
  SUBCASE("shorter than the ELF header") {
    const std::vector<std::uint8_t> image(good.begin(), good.begin() + 40);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message, "shorter"));
  }
  SUBCASE("32-bit") {
    std::vector<std::uint8_t> image(good);
    image[EI_CLASS] = ELFCLASS32;
    const auto error = expect_error([&] { load_elf_kernel(image, memory); });
    CHECK(error.code == ErrorCode::UnsupportedKernel);
    CHECK(contains(error.message, "64-bit"));
  }
  SUBCASE("another machine") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
    const auto error = expect_error([&] { load_elf_kernel(image, memory); });
    CHECK(error.code == ErrorCode::UnsupportedKernel);
    CHECK(contains(error.message, "built for AArch64 (ARM64), not x86-64"));
  }
  SUBCASE("a 32-bit i386 kernel is named as such, even from its 52-byte header alone") {
    std::vector<std::uint8_t> image(good.begin(), good.begin() + sizeof(Elf32_Ehdr));
    image[EI_CLASS] = ELFCLASS32;
    patch<std::uint16_t>(image, offsetof(Elf32_Ehdr, e_machine), EM_386);
    const auto error = expect_error([&] { load_elf_kernel(image, memory); });
    CHECK(error.code == ErrorCode::UnsupportedKernel);
    CHECK(contains(error.message, "built for i386 (32-bit x86), not x86-64"));
  }
  SUBCASE("an unknown machine is given by number") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_machine), 0x7777);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message,
                   "machine type 30583"));
  }
  SUBCASE("a relocatable object, not an executable") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_type), ET_REL);
    CHECK(expect_error([&] { load_elf_kernel(image, memory); }).code ==
          ErrorCode::UnsupportedKernel);
  }
  SUBCASE("program headers past the end of the file") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, offsetof(Elf64_Ehdr, e_phoff), image.size() - 8);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message,
                   "past the end"));
  }
  SUBCASE("program header offset that overflows") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, offsetof(Elf64_Ehdr, e_phoff), ~0ull - 8);
    CHECK(expect_error([&] { load_elf_kernel(image, memory); }).code == ErrorCode::NotAKernel);
  }
  SUBCASE("wrong program header size") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_phentsize), 32);
    CHECK(expect_error([&] { load_elf_kernel(image, memory); }).code == ErrorCode::NotAKernel);
  }
  SUBCASE("no program headers") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_phnum), 0);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message,
                   "no program headers"));
  }
}

TEST_CASE("ELF: out-of-range and inconsistent segments are refused before loading") {
  const GuestMemory memory = memory_of_mib(16);
  const auto good = build_elf(kernel_like());

  SUBCASE("file bytes beyond the end of the file") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, phdr_field(0, offsetof(Elf64_Phdr, p_offset)), image.size() - 4);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message,
                   "past the end of the file"));
  }
  SUBCASE("file offset that overflows") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, phdr_field(0, offsetof(Elf64_Phdr, p_offset)), ~0ull);
    CHECK(expect_error([&] { load_elf_kernel(image, memory); }).code == ErrorCode::NotAKernel);
  }
  SUBCASE("more file bytes than memory bytes") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, phdr_field(0, offsetof(Elf64_Phdr, p_memsz)), 4);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message,
                   "more file bytes"));
  }
  SUBCASE("destination beyond guest RAM") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, phdr_field(1, offsetof(Elf64_Phdr, p_paddr)), 0xfffff8);
    const auto error = expect_error([&] { load_elf_kernel(image, memory); });
    CHECK(error.code == ErrorCode::KernelTooLarge);
    // Validation happens before any byte is written.
    CHECK(memory.read_object<std::uint64_t>(0x200000) == 0);
  }
  SUBCASE("destination whose end wraps around") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, phdr_field(1, offsetof(Elf64_Phdr, p_paddr)), ~0ull - 1);
    CHECK(expect_error([&] { load_elf_kernel(image, memory); }).code == ErrorCode::KernelTooLarge);
  }
  SUBCASE("destination below 1 MiB, over the VMM's boot structures") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, phdr_field(0, offsetof(Elf64_Phdr, p_paddr)), 0x7000);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message, "1 MiB"));
  }
  SUBCASE("overlapping segments") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint64_t>(image, phdr_field(1, offsetof(Elf64_Phdr, p_paddr)), 0x201000);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message, "overlaps"));
  }
  SUBCASE("entry point outside every segment") {
    ElfSpec spec = kernel_like();
    spec.entry = 0x500000;
    CHECK(contains(expect_error([&] { load_elf_kernel(build_elf(spec), memory); }).message,
                   "entry point"));
  }
  SUBCASE("no loadable segment") {
    std::vector<std::uint8_t> image(good);
    patch<std::uint32_t>(image, phdr_field(0, offsetof(Elf64_Phdr, p_type)), PT_NOTE);
    patch<std::uint32_t>(image, phdr_field(1, offsetof(Elf64_Phdr, p_type)), PT_NOTE);
    CHECK(contains(expect_error([&] { load_elf_kernel(image, memory); }).message,
                   "no loadable segments"));
  }
}
