/* Resets the machine through the keyboard controller: command 0xFE to port
   0x64 pulses the CPU reset line. */
#include "guest_io.h"

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("resetting via the keyboard controller\n");
  outb(0x64, 0xfe);
  serial_puts("still here after the reset\n");
}
