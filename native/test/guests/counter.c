/* Prints the numbers 0..N-1 (N from "count=" on the command line), one per
   line, then "end": a stream whose completeness and order show that nothing
   was lost or repeated across pause and resume. */
#include "guest_io.h"

void guest_main(const uint8_t* boot_params) {
  const uint32_t count = command_line_number(boot_command_line(boot_params), "count=", 1000);
  for (uint32_t i = 0; i < count; ++i) {
    serial_put_dec(i);
    serial_putc('\n');
  }
  serial_puts("end\n");
}
