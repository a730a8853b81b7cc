/* For the port-I/O benchmark: announces itself, writes a port no device
   claims PORT_LOOP_COUNT times (each write is one exit to the VMM), says when
   it is done, and halts. The host times the stretch between the two lines. */
#include "guest_io.h"

#define PORT_LOOP_PORT 0x514
#define PORT_LOOP_COUNT 20000

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("port-loop start\n");
  for (int i = 0; i < PORT_LOOP_COUNT; ++i) {
    outb(PORT_LOOP_PORT, (uint8_t)i);
  }
  serial_puts("port-loop done\n");
}
