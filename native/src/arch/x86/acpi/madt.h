// The MADT ("APIC"): the interrupt controllers. One Local APIC per vCPU, the
// IOAPIC, the ISA interrupt overrides and the LINT1 NMI wiring of a PC.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nestbox::x86::acpi {

inline constexpr std::uint8_t kMadtRevision = 5;
inline constexpr std::uint32_t kMadtPcatCompat = 1;  // the 8259 PICs are present too

inline constexpr std::uint8_t kMadtLocalApic = 0;
inline constexpr std::uint8_t kMadtIoApic = 1;
inline constexpr std::uint8_t kMadtInterruptOverride = 2;
inline constexpr std::uint8_t kMadtLocalApicNmi = 4;

// MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2.
inline constexpr std::uint16_t kMpsActiveHigh = 0x1;
inline constexpr std::uint16_t kMpsEdge = 0x1 << 2;
inline constexpr std::uint16_t kMpsLevel = 0x3 << 2;

// The highest xAPIC ID a MADT Local APIC entry can carry (0xff is broadcast);
// the IOAPIC takes the ID after the last CPU's.
inline constexpr std::uint32_t kMaxApicId = 0xfd;

struct MadtConfig {
  std::vector<std::uint8_t> apic_ids;  // one per vCPU, in vCPU order
  std::uint8_t sci_irq;
};

// The IOAPIC's ID: one past the highest CPU APIC ID.
std::uint8_t io_apic_id(std::span<const std::uint8_t> apic_ids);
std::vector<std::uint8_t> build_madt(const MadtConfig& config);

}  // namespace nestbox::x86::acpi
