/* Echoes what arrives on COM1 (polling LSR.DR), 'q' included, then prints
   "echo done" and halts: host input (sendSerialInput, `nestbox run` stdin)
   reaching the guest through the UART's receive FIFO. */
#include "guest_io.h"

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("echo ready\n");
  for (;;) {
    const uint8_t byte = serial_getc();
    serial_putc((char)byte);
    if (byte == 'q') {
      break;
    }
  }
  serial_puts("\necho done\n");
}
