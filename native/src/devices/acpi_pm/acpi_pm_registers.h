// The layout of our ACPI fixed-hardware register block: the one place both the
// device (AcpiPmBlock) and the tables that describe it (FADT, DSDT \_S5) read,
// so the guest's view and the device cannot drift apart.
#pragma once

#include <cstdint>

namespace nestbox::acpi_pm {

// Port I/O base of the block; 0x600 is unused by legacy PC devices.
inline constexpr std::uint16_t kDefaultBasePort = 0x600;
inline constexpr std::uint64_t kBlockLength = 0x20;

// Offsets from the base, and the lengths the FADT declares.
inline constexpr std::uint64_t kPm1EventOffset = 0x00;  // PM1a_EVT_BLK: status, then enable
inline constexpr std::uint8_t kPm1EventLength = 4;
inline constexpr std::uint64_t kPm1StatusOffset = 0x00;
inline constexpr std::uint64_t kPm1EnableOffset = 0x02;
inline constexpr std::uint64_t kPm1ControlOffset = 0x04;  // PM1a_CNT_BLK
inline constexpr std::uint8_t kPm1ControlLength = 2;
inline constexpr std::uint64_t kPmTimerOffset = 0x08;  // PM_TMR_BLK
inline constexpr std::uint8_t kPmTimerLength = 4;
// The FADT RESET_REG. Inside our block rather than at the conventional 0xcf9:
// that byte lies inside PCI's 0xcf8 CONFIG_ADDRESS dword, and our bus gives
// one address to one device.
inline constexpr std::uint64_t kResetOffset = 0x0c;
inline constexpr std::uint8_t kResetValue = 0x06;
inline constexpr std::uint64_t kGpe0Offset = 0x10;  // GPE0_BLK: status half, then enable half
inline constexpr std::uint8_t kGpe0Length = 4;
inline constexpr std::uint64_t kGpe0StatusOffset = 0x10;
inline constexpr std::uint64_t kGpe0EnableOffset = 0x12;

// PM1 status / enable bits.
inline constexpr std::uint16_t kTimerStatus = 1u << 0;
inline constexpr std::uint16_t kBusMasterStatus = 1u << 4;
inline constexpr std::uint16_t kGlobalStatus = 1u << 5;
inline constexpr std::uint16_t kPowerButtonStatus = 1u << 8;
inline constexpr std::uint16_t kSleepButtonStatus = 1u << 9;
inline constexpr std::uint16_t kRtcStatus = 1u << 10;
inline constexpr std::uint16_t kWakeStatus = 1u << 15;
inline constexpr std::uint16_t kTimerEnable = 1u << 0;
inline constexpr std::uint16_t kGlobalEnable = 1u << 5;
inline constexpr std::uint16_t kPowerButtonEnable = 1u << 8;
inline constexpr std::uint16_t kSleepButtonEnable = 1u << 9;
inline constexpr std::uint16_t kRtcEnable = 1u << 10;

// PM1 control bits.
inline constexpr std::uint16_t kSciEnable = 1u << 0;
inline constexpr std::uint16_t kBusMasterReload = 1u << 1;
inline constexpr std::uint16_t kGlobalRelease = 1u << 2;
inline constexpr unsigned kSleepTypeShift = 10;
inline constexpr std::uint16_t kSleepTypeMask = 0x7u << kSleepTypeShift;
inline constexpr std::uint16_t kSleepEnable = 1u << 13;

// The SLP_TYP value DSDT's \_S5 names for soft-off. Any 3-bit value works as
// long as the device and the table agree; 5 reads naturally as "S5".
inline constexpr std::uint8_t kS5SleepType = 5;

// The ACPI PM timer runs at 3.579545 MHz; ours is 24 bits wide (the FADT
// leaves TMR_VAL_EXT clear).
inline constexpr std::uint64_t kTimerFrequencyHz = 3'579'545;
inline constexpr std::uint32_t kTimerMask = 0x00ff'ffff;

}  // namespace nestbox::acpi_pm
