/* An ACPI power button handled the way an OS does it, then a clean soft-off.
   The guest finds the RSDP at 0xE0000, walks the XSDT to the FADT (PM1a event
   and control blocks, SCI_INT) and the MADT (IOAPIC address, the SCI's
   interrupt source override), routes the SCI's GSI through the IOAPIC to a
   vector with the polarity and trigger mode the MADT gives, enables PWRBTN_EN
   and waits with sti; hlt. On the SCI it reads PM1 status, acknowledges
   PWRBTN_STS by writing 1 to it, EOIs, and then enters S5 (SLP_TYP 5 with
   SLP_EN in PM1a_CNT; the DSDT's \_S5 says 5 for this machine). */
#include "guest_io.h"

#define RSDP_ADDRESS 0xe0000u
#define SCI_VECTOR 0x41
#define SPURIOUS_VECTOR 0xff

#define PWRBTN_STS (1u << 8)
#define PWRBTN_EN (1u << 8)
#define SLP_TYP_S5 5u
#define SLP_TYP_SHIFT 10
#define SLP_EN (1u << 13)

/* MADT interrupt source override flags (MPS INTI flags). */
#define MPS_POLARITY_MASK 0x3u
#define MPS_POLARITY_LOW 0x3u
#define MPS_TRIGGER_MASK 0xcu
#define MPS_TRIGGER_EDGE 0x4u

#define IOAPIC_REDIRECTION_LOW(pin) (0x10u + 2u * (pin))
#define IOAPIC_LEVEL (1u << 15)
#define IOAPIC_ACTIVE_LOW (1u << 13)

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

/* Found in the ACPI tables. */
static uint16_t pm1_status_port;
static uint16_t pm1_enable_port;
static uint16_t pm1_control_port;
static uint64_t local_apic_address;
volatile uint32_t power_button_presses;
volatile uint32_t other_scis;

void sci_isr(void);
void spurious_isr(void);
/* Saves the registers a C call may clobber; RSP is 16-byte aligned at the call. */
__asm__(
    ".text\n"
    ".globl sci_isr\n"
    "sci_isr:\n"
    "  push %rax\n  push %rcx\n  push %rdx\n  push %rsi\n  push %rdi\n"
    "  push %r8\n  push %r9\n  push %r10\n  push %r11\n"
    "  call sci_handler\n"
    "  pop %r11\n  pop %r10\n  pop %r9\n  pop %r8\n"
    "  pop %rdi\n  pop %rsi\n  pop %rdx\n  pop %rcx\n  pop %rax\n"
    "  iretq\n"
    ".globl spurious_isr\n"
    "spurious_isr:\n"
    "  iretq\n");

void sci_handler(void) {
  const uint16_t status = inw(pm1_status_port);
  if ((status & PWRBTN_STS) != 0) {
    outw(pm1_status_port, PWRBTN_STS); /* write 1 to clear: the SCI line drops */
    ++power_button_presses;
  } else {
    ++other_scis;
  }
  mmio_write32(local_apic_address + LAPIC_EOI, 0);
}

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

static int same_bytes(const volatile uint8_t* a, const char* b, int length) {
  for (int i = 0; i < length; ++i) {
    if (a[i] != (uint8_t)b[i]) {
      return 0;
    }
  }
  return 1;
}

static uint32_t read32(uint64_t address) { return *(const volatile uint32_t*)(uintptr_t)address; }
static uint16_t read16(uint64_t address) { return *(const volatile uint16_t*)(uintptr_t)address; }
static uint8_t read8(uint64_t address) { return *(const volatile uint8_t*)(uintptr_t)address; }
static uint64_t read64(uint64_t address) {
  return read32(address) | (uint64_t)read32(address + 4) << 32;
}

static void fail(const char* why) {
  serial_puts("ACPI: ");
  serial_puts(why);
  serial_putc('\n');
  for (;;) {
    __asm__ volatile("cli; hlt");
  }
}

/* The address of the table with `signature` listed in the XSDT (or the RSDT). */
static uint64_t find_table(const char* signature) {
  const volatile uint8_t* rsdp = (const volatile uint8_t*)(uintptr_t)RSDP_ADDRESS;
  if (!same_bytes(rsdp, "RSD PTR ", 8)) {
    fail("no RSDP at 0xE0000");
  }
  const int extended = read8(RSDP_ADDRESS + 15) >= 2 && read64(RSDP_ADDRESS + 24) != 0;
  const uint64_t root = extended ? read64(RSDP_ADDRESS + 24) : read32(RSDP_ADDRESS + 16);
  const uint32_t entry_size = extended ? 8 : 4;
  const uint32_t length = read32(root + 4);
  for (uint32_t at = 36; at + entry_size <= length; at += entry_size) {
    const uint64_t table = extended ? read64(root + at) : read32(root + at);
    if (same_bytes((const volatile uint8_t*)(uintptr_t)table, signature, 4)) {
      return table;
    }
  }
  return 0;
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t value) {
  mmio_write32(base, reg);
  mmio_write32(base + 0x10, value);
}

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  const uint64_t fadt = find_table("FACP");
  const uint64_t madt = find_table("APIC");
  if (fadt == 0 || madt == 0) {
    fail("no FADT or MADT");
  }
  /* FADT: SCI_INT at 46, PM1a_EVT_BLK at 56, PM1a_CNT_BLK at 64, PM1_EVT_LEN at 88. */
  const uint16_t sci_irq = read16(fadt + 46);
  const uint32_t pm1a_event = read32(fadt + 56);
  const uint32_t pm1a_control = read32(fadt + 64);
  const uint8_t pm1_event_length = read8(fadt + 88);
  if (pm1a_event == 0 || pm1a_control == 0 || pm1_event_length < 4) {
    fail("no PM1a blocks in the FADT");
  }
  pm1_status_port = (uint16_t)pm1a_event;
  pm1_enable_port = (uint16_t)(pm1a_event + pm1_event_length / 2);
  pm1_control_port = (uint16_t)pm1a_control;

  /* MADT: local APIC address at 36, entries from 44. Without an override the
     SCI keeps ACPI's default: level-triggered, active low, GSI = SCI_INT. */
  local_apic_address = read32(madt + 36);
  uint64_t ioapic_address = 0;
  uint32_t ioapic_gsi_base = 0;
  uint32_t sci_gsi = sci_irq;
  uint16_t sci_flags = MPS_POLARITY_LOW | 0xcu;
  const uint32_t madt_length = read32(madt + 4);
  for (uint32_t at = 44; at + 2 <= madt_length;) {
    const uint8_t type = read8(madt + at);
    const uint8_t length = read8(madt + at + 1);
    if (length < 2) {
      break;
    }
    if (type == 1 && ioapic_address == 0) { /* I/O APIC */
      ioapic_address = read32(madt + at + 4);
      ioapic_gsi_base = read32(madt + at + 8);
    } else if (type == 2 && read8(madt + at + 3) == sci_irq) { /* interrupt source override */
      sci_gsi = read32(madt + at + 4);
      sci_flags = read16(madt + at + 8);
    }
    at += length;
  }
  if (ioapic_address == 0 || sci_gsi < ioapic_gsi_base) {
    fail("no I/O APIC for the SCI");
  }
  const int level = (sci_flags & MPS_TRIGGER_MASK) != MPS_TRIGGER_EDGE;
  const int active_low = (sci_flags & MPS_POLARITY_MASK) == MPS_POLARITY_LOW;

  uint16_t code_selector;
  __asm__ volatile("mov %%cs, %0" : "=r"(code_selector));
  set_gate(SCI_VECTOR, sci_isr, code_selector);
  set_gate(SPURIOUS_VECTOR, spurious_isr, code_selector);
  const struct idt_pointer pointer = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" : : "m"(pointer));

  outb(0x21, 0xff); /* mask both PICs: interrupts come through the IOAPIC */
  outb(0xa1, 0xff);
  mmio_write32(local_apic_address + LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
  const uint32_t pin = sci_gsi - ioapic_gsi_base;
  ioapic_write(ioapic_address, IOAPIC_REDIRECTION_LOW(pin) + 1, 0); /* destination APIC 0 */
  ioapic_write(ioapic_address, IOAPIC_REDIRECTION_LOW(pin),
               SCI_VECTOR | (level ? IOAPIC_LEVEL : 0) | (active_low ? IOAPIC_ACTIVE_LOW : 0));

  serial_puts("SCI: GSI ");
  serial_put_dec(sci_gsi);
  serial_puts(level ? ", level" : ", edge");
  serial_puts(active_low ? ", active low; PM1a at " : ", active high; PM1a at ");
  serial_put_hex(pm1a_event);
  serial_putc('\n');

  outw(pm1_status_port, 0xffff); /* clear anything stale, then enable the button */
  outw(pm1_enable_port, PWRBTN_EN);
  serial_puts("waiting for the power button\n");
  while (power_button_presses == 0) {
    __asm__ volatile("sti; hlt; cli");
  }
  serial_puts("power button pressed, shutting down\n");
  outw(pm1_control_port, (uint16_t)((inw(pm1_control_port) & ~(7u << SLP_TYP_SHIFT)) |
                                    (SLP_TYP_S5 << SLP_TYP_SHIFT) | SLP_EN));
  serial_puts("still here after S5\n");
}
