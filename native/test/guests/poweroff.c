/* Powers the machine off the ACPI way: SLP_TYP = S5 with SLP_EN in PM1a_CNT
   (port 0x604: the PM block at 0x600, as the FADT says). */
#include "guest_io.h"

#define PM1A_CNT 0x604
#define SLP_TYP_S5 5
#define SLP_EN (1u << 13)

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("powering off\n");
  outw(PM1A_CNT, (uint16_t)((SLP_TYP_S5 << 10) | SLP_EN));
  serial_puts("still here after S5\n");
}
