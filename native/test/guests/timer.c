/* A timer interrupt delivered the PC way: the PIT's channel 0 (in KVM) at
   100 Hz, ISA IRQ 0 routed to IOAPIC pin 2, redirected to vector 0x20 on
   this CPU's local APIC. The guest builds an IDT, waits with sti; hlt for
   ten ticks, and prints the count. */
#include "guest_io.h"

#define IOAPIC_BASE 0xfec00000ull
#define TIMER_VECTOR 0x20
#define SPURIOUS_VECTOR 0xff
#define PIT_HZ 1193182u
#define TICKS_WANTED 10

struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attributes;
  uint16_t offset_middle;
  uint32_t offset_high;
  uint32_t reserved;
} __attribute__((packed));

struct idt_pointer {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
volatile uint32_t timer_ticks;

void timer_isr(void);
void spurious_isr(void);
__asm__(
    ".text\n"
    ".globl timer_isr\n"
    "timer_isr:\n"
    "  push %rax\n"
    "  lock incl timer_ticks(%rip)\n"
    "  mov $0xfee000b0, %eax\n" /* LAPIC EOI */
    "  movl $0, (%rax)\n"
    "  pop %rax\n"
    "  iretq\n"
    ".globl spurious_isr\n"
    "spurious_isr:\n"
    "  iretq\n");

static void set_gate(int vector, void (*handler)(void), uint16_t selector) {
  const uint64_t address = (uint64_t)(uintptr_t)handler;
  idt[vector].offset_low = (uint16_t)address;
  idt[vector].selector = selector;
  idt[vector].ist = 0;
  idt[vector].type_attributes = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
  idt[vector].offset_middle = (uint16_t)(address >> 16);
  idt[vector].offset_high = (uint32_t)(address >> 32);
  idt[vector].reserved = 0;
}

static void ioapic_write(uint32_t reg, uint32_t value) {
  mmio_write32(IOAPIC_BASE, reg);
  mmio_write32(IOAPIC_BASE + 0x10, value);
}

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  uint16_t code_selector;
  __asm__ volatile("mov %%cs, %0" : "=r"(code_selector));
  set_gate(TIMER_VECTOR, timer_isr, code_selector);
  set_gate(SPURIOUS_VECTOR, spurious_isr, code_selector);
  const struct idt_pointer pointer = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" : : "m"(pointer));

  outb(0x21, 0xff); /* mask both PICs: interrupts come through the IOAPIC */
  outb(0xa1, 0xff);
  lapic_enable();
  /* IOAPIC pin 2 (ISA IRQ 0 by the usual override): vector 0x20, fixed,
     physical destination APIC 0, edge, active high, unmasked. */
  ioapic_write(0x10 + 2 * 2 + 1, 0);
  ioapic_write(0x10 + 2 * 2, TIMER_VECTOR);

  const uint16_t divisor = (uint16_t)(PIT_HZ / 100);
  outb(0x43, 0x34); /* channel 0, low then high byte, mode 2 (rate generator) */
  outb(0x40, (uint8_t)divisor);
  outb(0x40, (uint8_t)(divisor >> 8));

  serial_puts("waiting for timer ticks\n");
  while (timer_ticks < TICKS_WANTED) {
    __asm__ volatile("sti; hlt; cli");
  }
  serial_puts("timer ticks: ");
  serial_put_dec(timer_ticks >= TICKS_WANTED ? TICKS_WANTED : timer_ticks);
  serial_putc('\n');
}
