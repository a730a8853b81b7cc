// PCI Local Bus 3.0 configuration-space layout (type 0 header) and the bits
// of it we implement.
#pragma once

#include <cstdint>

namespace nestbox::pci {

inline constexpr std::uint16_t kConfigSpaceSize = 256;          // conventional (0xCF8/0xCFC)
inline constexpr std::uint16_t kExtendedConfigSpaceSize = 4096;  // through ECAM

// Type 0 header offsets.
inline constexpr std::uint16_t kVendorId = 0x00;
inline constexpr std::uint16_t kDeviceId = 0x02;
inline constexpr std::uint16_t kCommand = 0x04;
inline constexpr std::uint16_t kStatus = 0x06;
inline constexpr std::uint16_t kRevisionId = 0x08;
inline constexpr std::uint16_t kClassCode = 0x09;  // 3 bytes: prog-if, subclass, base class
inline constexpr std::uint16_t kCacheLineSize = 0x0c;
inline constexpr std::uint16_t kHeaderType = 0x0e;
inline constexpr std::uint16_t kBar0 = 0x10;
inline constexpr std::uint16_t kSubsystemVendorId = 0x2c;
inline constexpr std::uint16_t kSubsystemId = 0x2e;
inline constexpr std::uint16_t kCapabilitiesPointer = 0x34;
inline constexpr std::uint16_t kInterruptLine = 0x3c;
inline constexpr std::uint16_t kInterruptPin = 0x3d;
inline constexpr std::uint16_t kFirstCapabilityOffset = 0x40;
inline constexpr std::uint8_t kBarCount = 6;

// Command register.
inline constexpr std::uint16_t kCommandIoSpace = 1 << 0;
inline constexpr std::uint16_t kCommandMemorySpace = 1 << 1;
inline constexpr std::uint16_t kCommandBusMaster = 1 << 2;
inline constexpr std::uint16_t kCommandParityError = 1 << 6;
inline constexpr std::uint16_t kCommandSerr = 1 << 8;
inline constexpr std::uint16_t kCommandIntxDisable = 1 << 10;

// Status register.
inline constexpr std::uint16_t kStatusInterrupt = 1 << 3;
inline constexpr std::uint16_t kStatusCapabilitiesList = 1 << 4;

// BAR low bits.
inline constexpr std::uint32_t kBarIoSpace = 1 << 0;
inline constexpr std::uint32_t kBarMemoryType64 = 2 << 1;
inline constexpr std::uint32_t kBarPrefetchable = 1 << 3;

// Capability IDs.
inline constexpr std::uint8_t kCapabilityMsix = 0x11;
inline constexpr std::uint8_t kCapabilityVendorSpecific = 0x09;

inline constexpr std::uint8_t kHeaderTypeNormal = 0x00;
inline constexpr std::uint8_t kInterruptPinNone = 0;
inline constexpr std::uint8_t kInterruptPinIntA = 1;

}  // namespace nestbox::pci
