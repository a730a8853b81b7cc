// Where the VMM puts things in guest physical memory when it boots a kernel
// directly (no firmware). Everything the VMM builds lives below 1 MiB, where
// the kernel is never loaded.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace nestbox::x86::layout {

inline constexpr std::uint64_t kMiB = 1024 * 1024;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

// 0x0000-0x04ff: real-mode IVT and BIOS data area, left zero.
inline constexpr std::uint64_t kGdtAddress = 0x500;
inline constexpr std::uint64_t kIdtAddress = 0x520;  // empty IDT: an early fault is a triple fault
inline constexpr std::uint64_t kBootParamsAddress = 0x7000;  // "zero page", 4 KiB
inline constexpr std::uint64_t kBootStackTop = 0x9000;       // grows down into 0x8000-0x8fff
inline constexpr std::uint64_t kPml4Address = 0x9000;
inline constexpr std::uint64_t kPdptAddress = 0xa000;
inline constexpr std::uint64_t kPageDirectoriesAddress = 0xb000;  // four, 0xb000-0xefff
inline constexpr std::uint64_t kCommandLineAddress = 0x20000;
inline constexpr std::uint64_t kCommandLineCapacity = 0x10000;  // including the NUL
inline constexpr std::uint64_t kEbdaAddress = 0x9fc00;  // low RAM ends here; BIOS area follows
inline constexpr std::uint64_t kHighMemoryAddress = 1 * kMiB;
inline constexpr std::uint64_t kKernelLoadAddress = 1 * kMiB;

// RAM above this moves to 4 GiB, leaving room for 32-bit MMIO (PCI, LAPIC, IOAPIC).
inline constexpr std::uint64_t kPciHoleStart = 3 * kGiB;
inline constexpr std::uint64_t kPciHoleEnd = 4 * kGiB;
// Intel VMX's 3-page real-mode TSS, inside the hole so it never shadows RAM.
inline constexpr std::uint64_t kTssAddress = 0xfffbd000;
// The boot page tables identity-map this much, covering all low RAM and the hole.
inline constexpr std::uint64_t kIdentityMappedSize = 4 * kGiB;

inline constexpr std::uint64_t kMinimumRamSize = 16 * kMiB;

// Guest RAM regions for `ram_size` bytes: below the PCI hole, then above 4 GiB.
std::vector<GuestRamRegion> guest_ram_regions(std::uint64_t ram_size);

}  // namespace nestbox::x86::layout
