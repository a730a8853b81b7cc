// The FADT ("FACP", revision 6) of a legacy PC with ACPI fixed hardware in
// port I/O, and the FACS it points at.
#pragma once

#include <cstdint>
#include <vector>

namespace nestbox::x86::acpi {

inline constexpr std::uint8_t kFadtRevision = 6;
inline constexpr std::uint8_t kFadtMinorRevision = 0;  // ACPI 6.0 layout
inline constexpr std::size_t kFadtLength = 276;
inline constexpr std::size_t kFacsLength = 64;
inline constexpr std::uint64_t kFacsAlignment = 64;

// Field offsets the tests (and anyone checking a dump) need.
namespace fadt {
inline constexpr std::size_t kFirmwareCtrl = 36;
inline constexpr std::size_t kDsdt = 40;
inline constexpr std::size_t kSciInt = 46;
inline constexpr std::size_t kSmiCmd = 48;
inline constexpr std::size_t kPm1aEvtBlk = 56;
inline constexpr std::size_t kPm1aCntBlk = 64;
inline constexpr std::size_t kPmTmrBlk = 76;
inline constexpr std::size_t kGpe0Blk = 80;
inline constexpr std::size_t kPm1EvtLen = 88;
inline constexpr std::size_t kPm1CntLen = 89;
inline constexpr std::size_t kPmTmrLen = 91;
inline constexpr std::size_t kGpe0BlkLen = 92;
inline constexpr std::size_t kCentury = 108;
inline constexpr std::size_t kIapcBootArch = 109;
inline constexpr std::size_t kFlags = 112;
inline constexpr std::size_t kResetReg = 116;
inline constexpr std::size_t kResetValue = 128;
inline constexpr std::size_t kMinorVersion = 131;
inline constexpr std::size_t kXFirmwareCtrl = 132;
inline constexpr std::size_t kXDsdt = 140;
inline constexpr std::size_t kXPm1aEvtBlk = 148;
inline constexpr std::size_t kXPm1aCntBlk = 172;
inline constexpr std::size_t kXPmTmrBlk = 208;
inline constexpr std::size_t kXGpe0Blk = 220;

// Flags
inline constexpr std::uint32_t kWbinvd = 1u << 0;
inline constexpr std::uint32_t kProcC1 = 1u << 2;
inline constexpr std::uint32_t kPowerButton = 1u << 4;  // set: NOT a fixed-feature button
inline constexpr std::uint32_t kSleepButton = 1u << 5;  // set: no fixed-feature sleep button
inline constexpr std::uint32_t kTimerValExt = 1u << 8;  // set: 32-bit PM timer
inline constexpr std::uint32_t kResetRegSup = 1u << 10;
inline constexpr std::uint32_t kHwReducedAcpi = 1u << 20;
// IAPC_BOOT_ARCH
inline constexpr std::uint16_t kLegacyDevices = 1u << 0;
inline constexpr std::uint16_t k8042 = 1u << 1;
inline constexpr std::uint16_t kVgaNotPresent = 1u << 2;
inline constexpr std::uint16_t kCmosRtcNotPresent = 1u << 5;
// Generic Address Structure address space IDs and access sizes.
inline constexpr std::uint8_t kSystemIo = 1;
inline constexpr std::uint8_t kAccessByte = 1;
inline constexpr std::uint8_t kAccessWord = 2;
inline constexpr std::uint8_t kAccessDword = 3;
}  // namespace fadt

struct FadtConfig {
  std::uint16_t pm_base;  // port of the AcpiPmBlock
  std::uint8_t sci_irq;
  bool vga_present;
  std::uint64_t facs_address;  // below 4 GiB (both 32- and 64-bit fields are set)
  std::uint64_t dsdt_address;
};

std::vector<std::uint8_t> build_fadt(const FadtConfig& config);
std::vector<std::uint8_t> build_facs();

}  // namespace nestbox::x86::acpi
