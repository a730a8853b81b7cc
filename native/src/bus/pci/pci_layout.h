// Where PCI lives in the guest's address spaces. Everything is inside the
// 32-bit PCI hole (memory_layout.h: 3-4 GiB), below the IOAPIC (0xfec00000),
// LAPIC (0xfee00000) and the VMX TSS (0xfffbd000):
//   0xc0000000-0xdfffffff  512 MiB window for memory BARs (32- and 64-bit)
//   0xe0000000-0xe00fffff  ECAM for bus 0 (1 MiB; MCFG says buses 0-0)
// Port I/O: 0xcf8-0xcff config mechanism #1, 0xc000-0xffff I/O BARs.
#pragma once

#include <cstdint>

namespace nestbox::pci {

inline constexpr std::uint64_t kMmioWindowBase = 0xc000'0000;
inline constexpr std::uint64_t kMmioWindowSize = 0x2000'0000;
inline constexpr std::uint64_t kEcamBase = 0xe000'0000;
inline constexpr std::uint64_t kEcamBusSize = 1 << 20;  // 32 devices × 8 functions × 4 KiB
inline constexpr std::uint8_t kFirstBus = 0;
inline constexpr std::uint8_t kLastBus = 0;
inline constexpr std::uint64_t kEcamSize = kEcamBusSize * (kLastBus - kFirstBus + 1);
inline constexpr std::uint16_t kPciSegment = 0;

inline constexpr std::uint16_t kConfigAddressPort = 0xcf8;
inline constexpr std::uint16_t kConfigPortCount = 8;  // 0xcf8-0xcff
inline constexpr std::uint64_t kIoWindowBase = 0xc000;
inline constexpr std::uint64_t kIoWindowSize = 0x4000;

static_assert(kMmioWindowBase >= 3ull << 30 && kEcamBase + kEcamSize <= 0xfec0'0000ull);
static_assert(kMmioWindowBase + kMmioWindowSize <= kEcamBase);

}  // namespace nestbox::pci
