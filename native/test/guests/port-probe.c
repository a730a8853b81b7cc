/* Reads a port no device claims (0x510, where QEMU would have fw_cfg) and
   reports what came back: an unconnected bus reads all ones. */
#include "guest_io.h"

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  const uint8_t value = inb(0x510);
  serial_puts("port 0x510 reads ");
  serial_put_hex(value);
  serial_putc('\n');
}
