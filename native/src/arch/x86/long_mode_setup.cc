#include "arch/x86/long_mode_setup.h"

#include <array>

#include "arch/x86/memory_layout.h"

namespace nestbox::x86 {

namespace {

constexpr std::uint64_t kPageTableEntries = 512;
constexpr std::uint64_t kPageTableSize = 4096;
constexpr std::uint64_t k2MiB = 2 * layout::kMiB;
constexpr std::uint64_t kPageDirectoryCount = layout::kIdentityMappedSize / layout::kGiB;

SegmentDescriptor flat_code_64() {
  SegmentDescriptor d;
  d.limit = 0xfffff;
  d.type = 0xb;  // execute/read, accessed
  d.code_or_data = true;
  d.present = true;
  d.long_mode = true;
  d.granularity = true;
  return d;
}

SegmentDescriptor flat_data() {
  SegmentDescriptor d;
  d.limit = 0xfffff;
  d.type = 0x3;  // read/write, accessed
  d.code_or_data = true;
  d.present = true;
  d.default_32bit = true;
  d.granularity = true;
  return d;
}

void write_page_tables(const GuestMemory& memory) {
  std::array<std::uint64_t, kPageTableEntries> table{};

  table[0] = layout::kPdptAddress | kPagePresent | kPageWritable;
  memory.write_object(layout::kPml4Address, table);

  table.fill(0);
  for (std::uint64_t i = 0; i < kPageDirectoryCount; ++i) {
    table[i] = (layout::kPageDirectoriesAddress + i * kPageTableSize) | kPagePresent |
               kPageWritable;
  }
  memory.write_object(layout::kPdptAddress, table);

  for (std::uint64_t directory = 0; directory < kPageDirectoryCount; ++directory) {
    for (std::uint64_t i = 0; i < kPageTableEntries; ++i) {
      const std::uint64_t physical = directory * layout::kGiB + i * k2MiB;
      table[i] = physical | kPagePresent | kPageWritable | kPageSize2MiB;
    }
    memory.write_object(layout::kPageDirectoriesAddress + directory * kPageTableSize, table);
  }
}

}  // namespace

LongModeState install_long_mode_tables(const GuestMemory& memory) {
  const SegmentRegister code{kBootCodeSelector, flat_code_64()};
  const SegmentRegister data{kBootDataSelector, flat_data()};

  // Entries 0 and 1 are null: Linux's boot GDT puts CS at 0x10 and DS at 0x18.
  const std::array<std::uint64_t, 4> gdt = {0, 0, encode_segment_descriptor(code.descriptor),
                                            encode_segment_descriptor(data.descriptor)};
  memory.write_object(layout::kGdtAddress, gdt);
  memory.write_object(layout::kIdtAddress, std::uint64_t{0});

  write_page_tables(memory);

  LongModeState state{};
  state.cr0 = kCr0ProtectedMode | kCr0MonitorCoprocessor | kCr0ExtensionType | kCr0NumericError |
              kCr0WriteProtect | kCr0Paging;
  state.cr3 = layout::kPml4Address;
  state.cr4 = kCr4Pae | kCr4OsFxsr | kCr4OsXmmExcept;
  state.efer = kEferLongModeEnable | kEferLongModeActive;
  state.gdt = {layout::kGdtAddress, static_cast<std::uint16_t>(sizeof gdt - 1)};
  state.idt = {layout::kIdtAddress, 0};
  state.code = code;
  state.data = data;
  return state;
}

}  // namespace nestbox::x86
