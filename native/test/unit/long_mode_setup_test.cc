#include <doctest/doctest.h>

#include <optional>

#include "arch/x86/long_mode_setup.h"
#include "arch/x86/memory_layout.h"
#include "arch/x86/segment_descriptor.h"

using namespace nestbox;
using namespace nestbox::x86;

namespace {

// Walks the 4-level tables like the MMU does; returns the physical address or
// nullopt when some level is not present.
std::optional<std::uint64_t> translate(const GuestMemory& memory, std::uint64_t cr3,
                                       std::uint64_t virtual_address) {
  constexpr std::uint64_t kAddressMask = 0x000ffffffffff000ull;
  const std::uint64_t pml4e =
      memory.read_object<std::uint64_t>((cr3 & kAddressMask) + ((virtual_address >> 39) & 511) * 8);
  if (!(pml4e & kPagePresent)) return std::nullopt;
  const std::uint64_t pdpte = memory.read_object<std::uint64_t>(
      (pml4e & kAddressMask) + ((virtual_address >> 30) & 511) * 8);
  if (!(pdpte & kPagePresent)) return std::nullopt;
  const std::uint64_t pde = memory.read_object<std::uint64_t>(
      (pdpte & kAddressMask) + ((virtual_address >> 21) & 511) * 8);
  if (!(pde & kPagePresent) || !(pde & kPageSize2MiB)) return std::nullopt;
  return (pde & 0x000fffffffe00000ull) | (virtual_address & 0x1fffff);
}

}  // namespace

TEST_CASE("segment descriptors encode to the documented bit layout and back") {
  SegmentDescriptor code;
  code.limit = 0xfffff;
  code.type = 0xb;
  code.code_or_data = true;
  code.present = true;
  code.long_mode = true;
  code.granularity = true;
  // The classic flat 64-bit kernel code segment.
  CHECK(encode_segment_descriptor(code) == 0x00af9b000000ffffull);

  SegmentDescriptor data;
  data.limit = 0xfffff;
  data.type = 0x3;
  data.code_or_data = true;
  data.present = true;
  data.default_32bit = true;
  data.granularity = true;
  CHECK(encode_segment_descriptor(data) == 0x00cf93000000ffffull);

  SegmentDescriptor odd;
  odd.base = 0x12345678;
  odd.limit = 0xabcde;
  odd.type = 0x9;
  odd.privilege = 3;
  odd.present = true;
  odd.available = true;
  const SegmentDescriptor back = decode_segment_descriptor(encode_segment_descriptor(odd));
  CHECK(back.base == odd.base);
  CHECK(back.limit == odd.limit);
  CHECK(back.type == odd.type);
  CHECK(back.privilege == 3);
  CHECK(back.available);
  CHECK_FALSE(back.code_or_data);
  CHECK_FALSE(back.long_mode);
}

TEST_CASE("long mode setup: GDT holds flat code and data at Linux's boot selectors") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(16ull << 20));
  const LongModeState state = install_long_mode_tables(memory);

  CHECK(state.gdt.base == layout::kGdtAddress);
  CHECK(state.gdt.limit == 4 * 8 - 1);
  CHECK(state.code.selector == 0x10);
  CHECK(state.data.selector == 0x18);
  const auto code = decode_segment_descriptor(
      memory.read_object<std::uint64_t>(state.gdt.base + state.code.selector));
  const auto data = decode_segment_descriptor(
      memory.read_object<std::uint64_t>(state.gdt.base + state.data.selector));
  CHECK(code.long_mode);
  CHECK_FALSE(code.default_32bit);  // L and D must not both be set
  CHECK(code.type == 0xb);
  CHECK(code.present);
  CHECK(data.type == 0x3);
  CHECK(data.present);
  CHECK(data.limit == 0xfffff);
  CHECK(data.granularity);
  CHECK(memory.read_object<std::uint64_t>(state.gdt.base) == 0);  // null descriptor
}

TEST_CASE("long mode setup: control registers enable paging in IA-32e mode") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(16ull << 20));
  const LongModeState state = install_long_mode_tables(memory);
  CHECK((state.cr0 & kCr0ProtectedMode) != 0);
  CHECK((state.cr0 & kCr0Paging) != 0);
  CHECK((state.cr4 & kCr4Pae) != 0);
  CHECK((state.efer & kEferLongModeEnable) != 0);
  CHECK((state.efer & kEferLongModeActive) != 0);
  CHECK(state.cr3 == layout::kPml4Address);
  CHECK(state.idt.limit == 0);
}

TEST_CASE("long mode setup: page tables identity-map the first 4 GiB and nothing more") {
  const GuestMemory memory = GuestMemory::allocate(layout::guest_ram_regions(16ull << 20));
  const LongModeState state = install_long_mode_tables(memory);
  for (std::uint64_t address : {0x0ull, 0x7000ull, 0x100200ull, 0x1234567ull, 0x3fffffffull,
                                0x40000000ull, 0xbfffffffull, 0xfee00000ull, 0xffffffffull}) {
    CAPTURE(address);
    CHECK(translate(memory, state.cr3, address) == address);
  }
  CHECK_FALSE(translate(memory, state.cr3, 0x100000000ull).has_value());
  CHECK_FALSE(translate(memory, state.cr3, 0xffffffff81000000ull).has_value());
  // The tables themselves live below 1 MiB, clear of any kernel.
  CHECK(layout::kPageDirectoriesAddress + 4 * 4096 <= layout::kCommandLineAddress);
}
