/* Announces itself and then spins with interrupts off forever, so only the
   VMM can stop it (powerOff must kick the vCPU out of KVM_RUN). */
#include "guest_io.h"

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("spinning\n");
  for (;;) {
    __asm__ volatile("pause");
  }
}
