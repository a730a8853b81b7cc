// The local APIC register page as KVM_GET/SET_LAPIC exchange it (1 KiB, the
// architectural registers at their MMIO offsets), and what firmware programs
// into it before handing over: LINT0 as ExtINT (the 8259 PIC's output) and
// LINT1 as NMI on the boot CPU. Pure functions over the bytes.
#pragma once

#include <cstdint>
#include <span>

namespace nestbox::x86::lapic {

inline constexpr std::size_t kRegisterPageSize = 1024;
inline constexpr std::uint32_t kLvtLint0 = 0x350;
inline constexpr std::uint32_t kLvtLint1 = 0x360;
inline constexpr std::uint32_t kDeliveryModeNmi = 0x4 << 8;
inline constexpr std::uint32_t kDeliveryModeExtInt = 0x7 << 8;
inline constexpr std::uint32_t kLvtMasked = 1u << 16;
inline constexpr std::uint32_t kDeliveryModeMask = 0x7 << 8;

std::uint32_t read_register(std::span<const std::uint8_t, kRegisterPageSize> page,
                            std::uint32_t offset);
void write_register(std::span<std::uint8_t, kRegisterPageSize> page, std::uint32_t offset,
                    std::uint32_t value);

// LINT0 → ExtINT and LINT1 → NMI, both unmasked, as a PC's firmware leaves the BSP.
void program_boot_cpu_lints(std::span<std::uint8_t, kRegisterPageSize> page);

}  // namespace nestbox::x86::lapic
