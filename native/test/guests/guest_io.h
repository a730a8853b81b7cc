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

/* Offsets in struct boot_params (Documentation/arch/x86/boot.rst). */
#define BOOT_PARAMS_CMD_LINE_PTR 0x228

#endif
