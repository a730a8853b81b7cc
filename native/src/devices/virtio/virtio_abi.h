// Virtio 1.2 constants shared by every transport and device: device status
// bits (2.1), reserved feature bits (6) and device type IDs (5).
#pragma once

#include <cstdint>

namespace nestbox::virtio {

// Device status (section 2.1).
inline constexpr std::uint8_t kStatusAcknowledge = 1;
inline constexpr std::uint8_t kStatusDriver = 2;
inline constexpr std::uint8_t kStatusDriverOk = 4;
inline constexpr std::uint8_t kStatusFeaturesOk = 8;
inline constexpr std::uint8_t kStatusNeedsReset = 0x40;
inline constexpr std::uint8_t kStatusFailed = 0x80;

// Feature bits (section 6).
inline constexpr std::uint64_t kFeatureIndirectDesc = 1ull << 28;
inline constexpr std::uint64_t kFeatureEventIdx = 1ull << 29;
inline constexpr std::uint64_t kFeatureVersion1 = 1ull << 32;

// Device types (section 5).
inline constexpr std::uint16_t kDeviceTypeNet = 1;
inline constexpr std::uint16_t kDeviceTypeBlock = 2;
inline constexpr std::uint16_t kDeviceTypeEntropy = 4;
inline constexpr std::uint16_t kDeviceTypeInput = 18;

inline constexpr std::uint16_t kNoVector = 0xffff;  // VIRTIO_MSI_NO_VECTOR

}  // namespace nestbox::virtio
