// The virtio-pci modern transport layout (virtio 1.2, section 4.1): vendor
// capabilities pointing into a BAR, and the common configuration structure.
#pragma once

#include <cstdint>

namespace nestbox::virtio::pci_transport {

inline constexpr std::uint16_t kVendorId = 0x1af4;
inline constexpr std::uint16_t kDeviceIdBase = 0x1040;  // + device type (modern-only IDs)
inline constexpr std::uint8_t kRevision = 1;            // non-transitional

// cfg_type of struct virtio_pci_cap.
inline constexpr std::uint8_t kCapCommonCfg = 1;
inline constexpr std::uint8_t kCapNotifyCfg = 2;
inline constexpr std::uint8_t kCapIsrCfg = 3;
inline constexpr std::uint8_t kCapDeviceCfg = 4;
inline constexpr std::uint8_t kCapPciCfg = 5;
// struct virtio_pci_cap after the two generic bytes: cap_len, cfg_type, bar,
// id, padding[2], offset, length. Offsets from the capability start:
inline constexpr std::uint16_t kCapBarField = 4;
inline constexpr std::uint16_t kCapOffsetField = 8;
inline constexpr std::uint16_t kCapLengthField = 12;
inline constexpr std::uint16_t kCapPciCfgDataField = 16;  // virtio_pci_cfg_cap

// struct virtio_pci_common_cfg.
inline constexpr std::uint16_t kDeviceFeatureSelect = 0x00;
inline constexpr std::uint16_t kDeviceFeature = 0x04;
inline constexpr std::uint16_t kDriverFeatureSelect = 0x08;
inline constexpr std::uint16_t kDriverFeature = 0x0c;
inline constexpr std::uint16_t kConfigMsixVector = 0x10;
inline constexpr std::uint16_t kNumQueues = 0x12;
inline constexpr std::uint16_t kDeviceStatus = 0x14;
inline constexpr std::uint16_t kConfigGeneration = 0x15;
inline constexpr std::uint16_t kQueueSelect = 0x16;
inline constexpr std::uint16_t kQueueSize = 0x18;
inline constexpr std::uint16_t kQueueMsixVector = 0x1a;
inline constexpr std::uint16_t kQueueEnable = 0x1c;
inline constexpr std::uint16_t kQueueNotifyOff = 0x1e;
inline constexpr std::uint16_t kQueueDesc = 0x20;
inline constexpr std::uint16_t kQueueDriver = 0x28;
inline constexpr std::uint16_t kQueueDevice = 0x30;
inline constexpr std::uint16_t kQueueNotifyData = 0x38;
inline constexpr std::uint16_t kQueueReset = 0x3a;
inline constexpr std::uint16_t kCommonCfgSize = 0x3c;

// ISR status bits.
inline constexpr std::uint8_t kIsrQueue = 1;
inline constexpr std::uint8_t kIsrConfig = 2;

}  // namespace nestbox::virtio::pci_transport
