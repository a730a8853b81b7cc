/* Raises #UD with an empty IDT: the exception cannot be delivered, which
   escalates to a double and then a triple fault, i.e. a CPU shutdown. */
#include "guest_io.h"

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("about to triple fault\n");
  __asm__ volatile("ud2");
}
