/* Dropping a freestanding test guest to ring 3 (CPL 3), which this project's
   CI machines run natively while they emulate CPL-0 code instruction by
   instruction (PLATFORM-NOTES): a guest with a hot loop (a framebuffer
   redraw, a benchmark) sets up here at CPL 0, then runs the loop in ring 3.

   What it takes, all at CPL 0 and short:
   - user_mode_map(address, length): the U/S bit (bit 2) on every paging
     entry, at every level, that translates those addresses, in the tables
     CR3 points at (the VMM's identity map: 4-level, 2 MiB pages; 4 KiB and
     1 GiB pages are handled too). Call it for the code, data and stack ring 3
     uses (user_mode_map_image() covers the whole image, bss included) and
     for every buffer it touches (a framebuffer). CR3 is reloaded afterwards.
   - user_mode_enter(entry, stack_top): loads a GDT with 64-bit DPL-3 code and
     data descriptors and iretq's to `entry` at CPL 3 with RFLAGS.IOPL = 3 (so
     in/out, COM1 included, still work) and interrupts off. It never returns.

   No TSS and no IDT: ring 3 must not fault or take an interrupt (the VMM's
   empty IDT turns either into a triple fault, which the host sees as a
   reset). Ring 3 cannot hlt either; it ends when the host stops the machine.
   Header-only, static inline. */
#ifndef NESTBOX_GUEST_USER_MODE_H
#define NESTBOX_GUEST_USER_MODE_H

#include <stdint.h>

#define PAGE_PRESENT 0x1ull
#define PAGE_USER 0x4ull
#define PAGE_SIZE_BIT 0x80ull /* PS: a 2 MiB (PD) or 1 GiB (PDPT) page */
#define PAGE_ADDRESS_MASK 0x000ffffffffff000ull

/* Selectors of the GDT below (RPL 3 for the ring-3 ones). */
#define USER_MODE_KERNEL_CS 0x08
#define USER_MODE_KERNEL_DS 0x10
#define USER_MODE_USER_DS (0x18 | 3)
#define USER_MODE_USER_CS (0x20 | 3)

/* RFLAGS for ring 3: IOPL 3 (bits 13:12), the always-one bit 1, IF clear. */
#define USER_MODE_RFLAGS 0x3002ull

static inline uint64_t user_mode_read_cr3(void) {
  uint64_t value;
  __asm__ volatile("mov %%cr3, %0" : "=r"(value));
  return value;
}

static inline void user_mode_write_cr3(uint64_t value) {
  __asm__ volatile("mov %0, %%cr3" : : "r"(value) : "memory");
}

/* Sets U/S on the entry for `address` at each level; returns 0 when some
   level is not present (the address is not mapped). The tables live in
   identity-mapped memory, so their physical addresses are usable as is. */
static inline int user_mode_map_one(uint64_t address, uint64_t* step) {
  volatile uint64_t* table = (volatile uint64_t*)(uintptr_t)(user_mode_read_cr3() &
                                                              PAGE_ADDRESS_MASK);
  /* PML4 (bits 47:39), PDPT (38:30), PD (29:21), PT (20:12). */
  for (int shift = 39; shift >= 12; shift -= 9) {
    volatile uint64_t* entry = &table[(address >> shift) & 0x1ff];
    const uint64_t value = *entry;
    if ((value & PAGE_PRESENT) == 0) return 0;
    if ((value & PAGE_USER) == 0) *entry = value | PAGE_USER;
    if (shift == 12 || ((shift == 30 || shift == 21) && (value & PAGE_SIZE_BIT) != 0)) {
      *step = 1ull << shift;
      return 1;
    }
    table = (volatile uint64_t*)(uintptr_t)(value & PAGE_ADDRESS_MASK);
  }
  return 0;
}

/* Makes [address, address + length) reachable from ring 3. Returns 0 when
   part of it is not mapped. One table walk per page (2 MiB pages here). */
static inline int user_mode_map(uint64_t address, uint64_t length) {
  const uint64_t end = address + length;
  int ok = 1;
  while (address < end) {
    uint64_t step = 4096;
    if (!user_mode_map_one(address, &step)) ok = 0;
    address = (address & ~(step - 1)) + step;
  }
  user_mode_write_cr3(user_mode_read_cr3()); /* flush the TLB */
  return ok;
}

extern char _start[]; /* entry.S */
extern char _end[];   /* guest.ld: the end of the image, bss included */

/* The whole guest image: code, data, bss (and so the stacks in it). */
static inline int user_mode_map_image(void) {
  return user_mode_map((uint64_t)(uintptr_t)_start,
                       (uint64_t)(uintptr_t)_end - (uint64_t)(uintptr_t)_start);
}

/* null, kernel code 64, kernel data, user data (DPL 3), user code 64 (DPL 3). */
static const uint64_t user_mode_gdt[5] __attribute__((aligned(16))) = {
    0,
    0x00af9a000000ffffull, /* 0x08: P, DPL 0, code exec/read, L, G */
    0x00cf92000000ffffull, /* 0x10: P, DPL 0, data read/write, D/B, G */
    0x00cff2000000ffffull, /* 0x18: P, DPL 3, data read/write, D/B, G */
    0x00affa000000ffffull, /* 0x20: P, DPL 3, code exec/read, L, G */
};

struct __attribute__((packed)) user_mode_gdtr {
  uint16_t limit;
  uint64_t base;
};

/* Loads the GDT above (the CPU keeps running on its current, cached CS and
   data segments, which iretq replaces) and iretq's to `entry` at CPL 3 on
   `stack_top` (16-byte aligned; `entry` starts as if called). */
__attribute__((noreturn)) static inline void user_mode_enter(void (*entry)(void),
                                                             void* stack_top) {
  static struct user_mode_gdtr gdtr;
  gdtr.limit = sizeof user_mode_gdt - 1;
  gdtr.base = (uint64_t)(uintptr_t)user_mode_gdt;
  __asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
  const uint64_t rsp = (uint64_t)(uintptr_t)stack_top - 8; /* as after a call */
  __asm__ volatile(
      "pushq %[ss]\n\t"
      "pushq %[rsp]\n\t"
      "pushq %[rflags]\n\t"
      "pushq %[cs]\n\t"
      "pushq %[rip]\n\t"
      "iretq"
      :
      : [ss] "i"(USER_MODE_USER_DS), [rsp] "r"(rsp), [rflags] "i"(USER_MODE_RFLAGS),
        [cs] "i"(USER_MODE_USER_CS), [rip] "r"((uint64_t)(uintptr_t)entry)
      : "memory");
  __builtin_unreachable();
}

/* The current privilege level (CS bits 1:0): 3 once in ring 3. */
static inline unsigned user_mode_cpl(void) {
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  return cs & 3u;
}

#endif
