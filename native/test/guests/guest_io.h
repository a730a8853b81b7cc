/* Port I/O and COM1 output for freestanding test guests. Everything here runs
   at CPL 0, which this project's CI machines emulate instruction by
   instruction: keep loops short. */
#ifndef NESTBOX_GUEST_IO_H
#define NESTBOX_GUEST_IO_H

#include <stdint.h>

#define COM1 0x3f8
#define UART_LSR 5
#define UART_LSR_THRE 0x20

static inline void outb(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

static inline void serial_putc(char c) {
  while ((inb(COM1 + UART_LSR) & UART_LSR_THRE) == 0) {
  }
  outb(COM1, (uint8_t)c);
}

static inline void serial_puts(const char* text) {
  while (*text != '\0') {
    serial_putc(*text++);
  }
}

static inline void serial_put_hex(uint64_t value) {
  static const char digits[] = "0123456789abcdef";
  char text[17];
  int length = 0;
  do {
    text[length++] = digits[value & 0xf];
    value >>= 4;
  } while (value != 0);
  serial_puts("0x");
  while (length > 0) {
    serial_putc(text[--length]);
  }
}

static inline void outw(uint16_t port, uint16_t value) {
  __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint16_t inw(uint16_t port) {
  uint16_t value;
  __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

static inline void serial_put_dec(uint64_t value) {
  char text[21];
  int length = 0;
  do {
    text[length++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (length > 0) {
    serial_putc(text[--length]);
  }
}

#define UART_LSR_DR 0x01

/* Waits for a received byte (polling LSR.DR). */
static inline uint8_t serial_getc(void) {
  while ((inb(COM1 + UART_LSR) & UART_LSR_DR) == 0) {
  }
  return inb(COM1);
}

static inline void mmio_write32(uint64_t address, uint32_t value) {
  *(volatile uint32_t*)(uintptr_t)address = value;
}

static inline uint32_t mmio_read32(uint64_t address) {
  return *(volatile uint32_t*)(uintptr_t)address;
}

/* Local APIC registers (xAPIC MMIO). */
#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310

static inline void lapic_enable(void) {
  mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x100 | 0xff); /* software-enable, spurious vector 0xff */
}

static inline uint32_t lapic_id(void) { return mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24; }

/* Offsets in struct boot_params (Documentation/arch/x86/boot.rst). */
#define BOOT_PARAMS_CMD_LINE_PTR 0x228

/* The command line, or "" (guests take small settings from it). */
static inline const char* boot_command_line(const uint8_t* boot_params) {
  if (boot_params == 0) {
    return "";
  }
  const uint32_t pointer = *(const volatile uint32_t*)(boot_params + BOOT_PARAMS_CMD_LINE_PTR);
  return pointer == 0 ? "" : (const char*)(uintptr_t)pointer;
}

/* The decimal value after `key` (e.g. "cpus=") on the command line, or `fallback`. */
static inline uint32_t command_line_number(const char* line, const char* key, uint32_t fallback) {
  for (; *line != '\0'; ++line) {
    int i = 0;
    while (key[i] != '\0' && line[i] == key[i]) {
      ++i;
    }
    if (key[i] == '\0') {
      uint32_t value = 0;
      for (line += i; *line >= '0' && *line <= '9'; ++line) {
        value = value * 10 + (uint32_t)(*line - '0');
      }
      return value;
    }
  }
  return fallback;
}

#endif
