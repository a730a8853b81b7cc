#include "arch/x86/acpi/fadt.h"

#include "arch/x86/acpi/acpi_table.h"
#include "common/nestbox_error.h"
#include "devices/acpi_pm/acpi_pm_registers.h"
#include "devices/rtc/cmos_rtc.h"

namespace nestbox::x86::acpi {

namespace {

// A Generic Address Structure for a port I/O register.
void put_io_gas(ByteWriter& out, std::uint64_t port, std::uint8_t bit_width, std::uint8_t access) {
  out.u8(fadt::kSystemIo);
  out.u8(bit_width);
  out.u8(0);  // bit offset
  out.u8(access);
  out.u64(port);
}

void put_empty_gas(ByteWriter& out) { out.zeros(12); }

}  // namespace

std::vector<std::uint8_t> build_fadt(const FadtConfig& config) {
  if (config.facs_address > 0xffff'ffff || config.dsdt_address > 0xffff'ffff) {
    throw NestboxError(ErrorCode::InvalidConfig, "ACPI: the FACS and DSDT must lie below 4 GiB");
  }
  const std::uint32_t pm1_evt = config.pm_base + acpi_pm::kPm1EventOffset;
  const std::uint32_t pm1_cnt = config.pm_base + acpi_pm::kPm1ControlOffset;
  const std::uint32_t pm_tmr = config.pm_base + acpi_pm::kPmTimerOffset;
  const std::uint32_t gpe0 = config.pm_base + acpi_pm::kGpe0Offset;

  ByteWriter body;  // everything after the 36-byte header; offsets below are from the table start
  body.u32(static_cast<std::uint32_t>(config.facs_address));  // 36 FIRMWARE_CTRL
  body.u32(static_cast<std::uint32_t>(config.dsdt_address));  // 40 DSDT
  body.u8(0);                                                 // 44 reserved
  body.u8(0);                                                 // 45 preferred PM profile: unspecified
  body.u16(config.sci_irq);                                   // 46 SCI_INT
  // 48 SMI_CMD = 0: no SMM, ACPI is on from the start (SCI_EN reads 1), so
  // the OS never tries to switch modes; ACPI_ENABLE/DISABLE are then unused.
  body.u32(0);
  body.u8(0);        // 52 ACPI_ENABLE
  body.u8(0);        // 53 ACPI_DISABLE
  body.u8(0);        // 54 S4BIOS_REQ
  body.u8(0);        // 55 PSTATE_CNT
  body.u32(pm1_evt);  // 56 PM1a_EVT_BLK
  body.u32(0);        // 60 PM1b_EVT_BLK
  body.u32(pm1_cnt);  // 64 PM1a_CNT_BLK
  body.u32(0);        // 68 PM1b_CNT_BLK
  body.u32(0);        // 72 PM2_CNT_BLK
  body.u32(pm_tmr);   // 76 PM_TMR_BLK
  body.u32(gpe0);     // 80 GPE0_BLK
  body.u32(0);        // 84 GPE1_BLK
  body.u8(acpi_pm::kPm1EventLength);    // 88
  body.u8(acpi_pm::kPm1ControlLength);  // 89
  body.u8(0);                           // 90 PM2_CNT_LEN
  body.u8(acpi_pm::kPmTimerLength);     // 91
  body.u8(acpi_pm::kGpe0Length);        // 92
  body.u8(0);                           // 93 GPE1_BLK_LEN
  body.u8(0);                           // 94 GPE1_BASE
  body.u8(0);                           // 95 CST_CNT
  body.u16(101);   // 96 P_LVL2_LAT > 100: no C2
  body.u16(1001);  // 98 P_LVL3_LAT > 1000: no C3
  body.u16(0);     // 100 FLUSH_SIZE
  body.u16(0);     // 102 FLUSH_STRIDE
  body.u8(0);      // 104 DUTY_OFFSET
  body.u8(0);      // 105 DUTY_WIDTH
  body.u8(0);      // 106 DAY_ALRM: no day-of-month alarm
  body.u8(0);      // 107 MON_ALRM
  body.u8(rtc::kCentury);  // 108 CENTURY: where the RTC keeps it
  std::uint16_t boot_arch = fadt::kLegacyDevices | fadt::k8042;
  if (!config.vga_present) {
    boot_arch |= fadt::kVgaNotPresent;  // no legacy VGA to probe yet
  }
  body.u16(boot_arch);  // 109 IAPC_BOOT_ARCH
  body.u8(0);           // 111 reserved
  // 112 Flags. PWR_BUTTON clear: the power button is the fixed-feature one
  // in PM1 (PWRBTN_STS/EN). TMR_VAL_EXT clear: the timer is 24 bits.
  body.u32(fadt::kWbinvd | fadt::kProcC1 | fadt::kSleepButton | fadt::kResetRegSup);
  put_io_gas(body, config.pm_base + acpi_pm::kResetOffset, 8, fadt::kAccessByte);  // 116 RESET_REG
  body.u8(acpi_pm::kResetValue);  // 128 RESET_VALUE
  body.u16(0);                    // 129 ARM_BOOT_ARCH
  body.u8(kFadtMinorRevision);    // 131
  body.u64(config.facs_address);  // 132 X_FIRMWARE_CTRL
  body.u64(config.dsdt_address);  // 140 X_DSDT
  put_io_gas(body, pm1_evt, 8 * acpi_pm::kPm1EventLength, fadt::kAccessWord);    // 148
  put_empty_gas(body);                                                            // 160 X_PM1b_EVT
  put_io_gas(body, pm1_cnt, 8 * acpi_pm::kPm1ControlLength, fadt::kAccessWord);  // 172
  put_empty_gas(body);                                                            // 184 X_PM1b_CNT
  put_empty_gas(body);                                                            // 196 X_PM2_CNT
  put_io_gas(body, pm_tmr, 8 * acpi_pm::kPmTimerLength, fadt::kAccessDword);     // 208
  put_io_gas(body, gpe0, 8 * acpi_pm::kGpe0Length, fadt::kAccessByte);           // 220
  put_empty_gas(body);  // 232 X_GPE1_BLK
  put_empty_gas(body);  // 244 SLEEP_CONTROL_REG (hardware-reduced only)
  put_empty_gas(body);  // 256 SLEEP_STATUS_REG
  body.zeros(8);        // 268 hypervisor vendor identity
  const std::vector<std::uint8_t> bytes = body.take();
  return make_table("FACP", kFadtRevision, bytes);
}

std::vector<std::uint8_t> build_facs() {
  ByteWriter out;
  out.text("FACS", 4);
  out.u32(kFacsLength);
  out.u32(0);  // hardware signature
  out.u32(0);  // firmware waking vector: we never resume from S3
  out.u32(0);  // global lock
  out.u32(0);  // flags
  out.u64(0);  // X firmware waking vector
  out.u8(2);   // version
  out.zeros(3);
  out.u32(0);  // OSPM flags
  out.zeros(24);
  return out.take();
}

}  // namespace nestbox::x86::acpi
