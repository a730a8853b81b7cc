/* Jumps to an address where no memory is (the PCI hole below 4 GiB, where
   this machine has no device either). A CPU cannot fetch instructions from
   MMIO under KVM: on VT-x and AMD-V alike the fetch faults to KVM, whose
   instruction emulator cannot read the bytes, and at CPL 0 KVM exits to the
   VMM with KVM_EXIT_INTERNAL_ERROR (suberror 1, emulation failure). The VMM
   must report that as an error with the registers, RIP at the target. */
#include "guest_io.h"

#define NO_MEMORY_HERE 0xd0000000ull

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("jumping to 0xd0000000\n");
  void (*nowhere)(void) = (void (*)(void))(uintptr_t)NO_MEMORY_HERE;
  __asm__ volatile("" : "+r"(nowhere)); /* keep the compiler from reasoning about it */
  nowhere();
  serial_puts("came back from 0xd0000000\n");
}
