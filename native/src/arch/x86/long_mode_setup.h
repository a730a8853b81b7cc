// Builds what a 64-bit kernel expects to find when entered directly in long
// mode (Linux boot protocol, "64-bit boot protocol"): a GDT with flat 4 GiB
// code and data descriptors at the __BOOT_CS/__BOOT_DS selectors, identity-mapped
// page tables, and the control registers that turn paging and long mode on.
#pragma once

#include <cstdint>

#include "arch/x86/segment_descriptor.h"
#include "memory/guest_memory.h"

namespace nestbox::x86 {

inline constexpr std::uint16_t kBootCodeSelector = 0x10;  // Linux's __BOOT_CS
inline constexpr std::uint16_t kBootDataSelector = 0x18;  // Linux's __BOOT_DS

inline constexpr std::uint64_t kCr0ProtectedMode = 1ull << 0;
inline constexpr std::uint64_t kCr0MonitorCoprocessor = 1ull << 1;
inline constexpr std::uint64_t kCr0ExtensionType = 1ull << 4;
inline constexpr std::uint64_t kCr0NumericError = 1ull << 5;
inline constexpr std::uint64_t kCr0WriteProtect = 1ull << 16;
inline constexpr std::uint64_t kCr0Paging = 1ull << 31;
inline constexpr std::uint64_t kCr4Pae = 1ull << 5;
inline constexpr std::uint64_t kCr4OsFxsr = 1ull << 9;
inline constexpr std::uint64_t kCr4OsXmmExcept = 1ull << 10;
inline constexpr std::uint64_t kEferLongModeEnable = 1ull << 8;
inline constexpr std::uint64_t kEferLongModeActive = 1ull << 10;

inline constexpr std::uint64_t kPagePresent = 1ull << 0;
inline constexpr std::uint64_t kPageWritable = 1ull << 1;
inline constexpr std::uint64_t kPageSize2MiB = 1ull << 7;  // PS bit in a page-directory entry

struct SegmentRegister {
  std::uint16_t selector;
  SegmentDescriptor descriptor;
};

struct DescriptorTableRegister {
  std::uint64_t base;
  std::uint16_t limit;
};

// Control and segment state for a vCPU entering 64-bit code with the tables
// written by install_long_mode_tables().
struct LongModeState {
  std::uint64_t cr0;
  std::uint64_t cr3;
  std::uint64_t cr4;
  std::uint64_t efer;
  DescriptorTableRegister gdt;
  DescriptorTableRegister idt;
  SegmentRegister code;
  SegmentRegister data;  // loaded into DS, ES, FS, GS and SS
};

// Writes the GDT, an empty IDT and page tables identity-mapping the first
// 4 GiB with 2 MiB pages into guest memory (see memory_layout.h for where).
LongModeState install_long_mode_tables(const GuestMemory& memory);

}  // namespace nestbox::x86
