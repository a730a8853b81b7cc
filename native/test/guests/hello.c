/* Prints a greeting and the kernel command line found through boot_params
   (as a Linux kernel would), then returns to the entry code, which halts. */
#include "guest_io.h"

#define MAX_COMMAND_LINE 256

void guest_main(const uint8_t* boot_params) {
  serial_puts("Hello from a Nestbox test guest\n");
  if (boot_params == 0) {
    return;
  }
  const uint32_t pointer = *(const volatile uint32_t*)(boot_params + BOOT_PARAMS_CMD_LINE_PTR);
  const char* command_line = (const char*)(uintptr_t)pointer;
  if (pointer == 0 || command_line[0] == '\0') {
    return;
  }
  serial_puts("cmdline: ");
  for (int i = 0; i < MAX_COMMAND_LINE && command_line[i] != '\0'; ++i) {
    serial_putc(command_line[i]);
  }
  serial_putc('\n');
}
