/* Starts every application processor the PC way and has each report in.
   The BSP copies a real-mode trampoline to 0x30000, enables its local APIC
   and sends each AP (APIC IDs 1..cpus-1, "cpus=" on the command line) INIT
   then a startup IPI with vector 0x30. The trampoline switches straight to
   long mode on the BSP's page tables and jumps to ap_entry64, which takes a
   stack and calls ap_main: each AP prints its APIC ID under a spinlock. */
#include "guest_io.h"

#define TRAMPOLINE_BASE 0x30000u
#define STARTUP_VECTOR (TRAMPOLINE_BASE >> 12)
#define MAX_CPUS 64

extern const uint8_t trampoline_start[], trampoline_end[], trampoline_cr3[];
volatile uint32_t ap_next_stack;
uint8_t ap_stacks[MAX_CPUS * 4096] __attribute__((aligned(4096)));
static volatile uint32_t ap_started;
static volatile uint32_t print_lock;

__asm__(
    ".text\n"
    ".code16\n"
    ".globl trampoline_start, trampoline_end, trampoline_cr3\n"
    "trampoline_start:\n"
    "  cli\n"
    "  mov %cs, %ax\n"
    "  mov %ax, %ds\n"
    "  lgdtl (tramp_gdt_desc - trampoline_start)\n"
    "  mov %cr4, %eax\n"
    "  or $0x20, %eax\n" /* PAE */
    "  mov %eax, %cr4\n"
    "  movl (trampoline_cr3 - trampoline_start), %eax\n"
    "  mov %eax, %cr3\n"
    "  mov $0xc0000080, %ecx\n" /* EFER.LME */
    "  rdmsr\n"
    "  or $0x100, %eax\n"
    "  wrmsr\n"
    "  mov %cr0, %eax\n"
    "  or $0x80000001, %eax\n" /* PG | PE */
    "  mov %eax, %cr0\n"
    "  ljmpl $0x08, $(0x30000 + tramp64 - trampoline_start)\n"
    ".code64\n"
    "tramp64:\n"
    "  mov $0x10, %ax\n"
    "  mov %ax, %ds\n"
    "  mov %ax, %es\n"
    "  mov %ax, %ss\n"
    "  movabs $ap_entry64, %rax\n"
    "  jmp *%rax\n"
    ".balign 8\n"
    "tramp_gdt:\n"
    "  .quad 0\n"
    "  .quad 0x00af9a000000ffff\n" /* 0x08: 64-bit code */
    "  .quad 0x00cf92000000ffff\n" /* 0x10: data */
    "tramp_gdt_desc:\n"
    "  .word tramp_gdt_desc - tramp_gdt - 1\n"
    "  .long 0x30000 + tramp_gdt - trampoline_start\n"
    "trampoline_cr3:\n"
    "  .long 0\n"
    "trampoline_end:\n"
    "ap_entry64:\n"
    "  mov $1, %eax\n"
    "  lock xadd %eax, ap_next_stack(%rip)\n"
    "  inc %eax\n"
    "  shl $12, %rax\n"
    "  lea ap_stacks(%rip), %rsp\n"
    "  add %rax, %rsp\n"
    "  call ap_main\n"
    "1:\n"
    "  cli\n"
    "  hlt\n"
    "  jmp 1b\n");

static void lock_print(void) {
  while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE) != 0) {
    __asm__ volatile("pause");
  }
}

static void unlock_print(void) { __atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE); }

void ap_main(void) {
  lock_print();
  serial_puts("AP ");
  serial_put_dec(lapic_id());
  serial_puts(" up\n");
  unlock_print();
  __atomic_fetch_add(&ap_started, 1, __ATOMIC_RELEASE);
}

static void send_ipi(uint32_t apic_id, uint32_t command) {
  mmio_write32(LAPIC_BASE + LAPIC_ICR_HIGH, apic_id << 24);
  mmio_write32(LAPIC_BASE + LAPIC_ICR_LOW, command);
  while ((mmio_read32(LAPIC_BASE + LAPIC_ICR_LOW) & (1u << 12)) != 0) { /* delivery pending */
  }
}

void guest_main(const uint8_t* boot_params) {
  uint32_t cpus = command_line_number(boot_command_line(boot_params), "cpus=", 1);
  if (cpus > MAX_CPUS) {
    cpus = MAX_CPUS;
  }
  lock_print();
  serial_puts("BSP ");
  serial_put_dec(lapic_id());
  serial_puts(" up, starting ");
  serial_put_dec(cpus - 1);
  serial_puts(" APs\n");
  unlock_print();

  volatile uint8_t* trampoline = (volatile uint8_t*)(uintptr_t)TRAMPOLINE_BASE;
  const uint64_t length = (uint64_t)(trampoline_end - trampoline_start);
  for (uint64_t i = 0; i < length; ++i) {
    trampoline[i] = trampoline_start[i];
  }
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  *(volatile uint32_t*)(trampoline + (trampoline_cr3 - trampoline_start)) = (uint32_t)cr3;

  lapic_enable();
  for (uint32_t id = 1; id < cpus; ++id) {
    send_ipi(id, 0x4500);                  /* INIT, assert */
    send_ipi(id, 0x4600 | STARTUP_VECTOR); /* STARTUP */
  }
  for (uint32_t spins = 0; ap_started < cpus - 1 && spins < 2000000; ++spins) {
    __asm__ volatile("pause");
  }
  lock_print();
  serial_puts(ap_started == cpus - 1 ? "all " : "only ");
  serial_put_dec(ap_started + 1);
  serial_puts(" CPUs up\n");
  unlock_print();
}
