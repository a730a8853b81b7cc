/* A guest whose RAM is (nearly) all random-looking data, for
   bench/snapshot.bench.ts: taking and reverting a snapshot then has to deal
   with every page (no zero pages to skip).

   1. At CPL 0 (emulated on the CI machines, so kept short): reads the e820
      map from boot_params; makes every RAM range from the first 2 MiB
      boundary after this image upwards reachable from ring 3
      (guest_user_mode.h). The VMM's boot page tables identity-map only the
      first 4 GiB, so for RAM above 4 GiB it adds page directories of 2 MiB
      pages (user-accessible) to the PDPT, one per GiB, up to
      MAX_HIGH_GIB GiB above 4 GiB; RAM beyond that is left unfilled (and
      said so). Prints "fill-ram: ram=<MiB> MiB spin=<rounds>".
   2. In ring 3 (natively there): fills those ranges with xorshift64 output,
      8 bytes at a time, seeded from "seed=" on the command line (default
      1), then prints "fill-ram: filled <MiB> MiB".
   3. Counts for ever: "tick <n>\n" on COM1 for n = 1, 2, 3, ..., with spin=M
      (default 100) rounds of 2^20 iterations of a two-instruction loop
      between ticks (about 80 ms natively on the CI CPU). A snapshot's
      revert shows as the ticks going back to where it was taken.

   Below the fill start (the first 2 MiB: boot structures, this image and
   its bss with the stacks and the extra page directories) nothing is
   written. Ring 3 never ends by itself. */
#include "guest_io.h"
#include "guest_user_mode.h"

#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define E820_ENTRY_SIZE 20
#define E820_RAM 1
#define MAX_RANGES 8

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define PAGE_2MiB (2 * MiB)
#define PAGE_WRITABLE 0x2ull
/* Page directories for RAM above the boot tables' 4 GiB: 4 KiB each. */
#define IDENTITY_MAPPED_GiB 4
#define MAX_HIGH_GIB 60

#define SPIN_ROUND (1u << 20)
#define DEFAULT_SPIN_ROUNDS 100

struct range {
  uint64_t start, end;
};

static uint64_t high_directories[MAX_HIGH_GIB][512] __attribute__((aligned(4096)));
static uint8_t user_stack[16384] __attribute__((aligned(16)));

/* What CPL 0 found, for ring 3 (the whole image is user-accessible). */
static struct range ranges[MAX_RANGES];
static uint32_t range_count;
static uint32_t spin_rounds;
static uint64_t seed;

static uint64_t read_le(uint64_t address, int bytes) {
  const volatile uint8_t* p = (const volatile uint8_t*)(uintptr_t)address;
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

/* The PDPT that PML4 entry 0 (the first 512 GiB) points at. */
static volatile uint64_t* first_pdpt(void) {
  const volatile uint64_t* pml4 =
      (const volatile uint64_t*)(uintptr_t)(user_mode_read_cr3() & PAGE_ADDRESS_MASK);
  return (volatile uint64_t*)(uintptr_t)(pml4[0] & PAGE_ADDRESS_MASK);
}

/* Identity-maps (user-accessible) every GiB from 4 GiB up to `end` that the
   boot tables leave out; returns the end of what is mapped. */
static uint64_t map_above_4gib(uint64_t end) {
  const uint64_t limit = (IDENTITY_MAPPED_GiB + MAX_HIGH_GIB) * GiB;
  if (end > limit) end = limit;
  volatile uint64_t* pdpt = first_pdpt();
  for (uint64_t gib = IDENTITY_MAPPED_GiB; gib * GiB < end; ++gib) {
    if ((pdpt[gib] & PAGE_PRESENT) != 0) continue;
    uint64_t* directory = high_directories[gib - IDENTITY_MAPPED_GiB];
    for (uint64_t i = 0; i < 512; ++i) {
      directory[i] = (gib * GiB + i * PAGE_2MiB) | PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER |
                     PAGE_SIZE_BIT;
    }
    pdpt[gib] = (uint64_t)(uintptr_t)directory | PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER;
  }
  user_mode_write_cr3(user_mode_read_cr3());
  return end;
}

/* 2^20 iterations of dec/jnz, natively in ring 3. */
static void spin_round(void) {
  uint64_t left = SPIN_ROUND;
  __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(left) : : "cc");
}

static void user_main(void) {
  uint64_t x = seed != 0 ? seed : 1;
  uint64_t filled = 0;
  for (uint32_t r = 0; r < range_count; ++r) {
    volatile uint64_t* p = (volatile uint64_t*)(uintptr_t)ranges[r].start;
    volatile uint64_t* const end = (volatile uint64_t*)(uintptr_t)ranges[r].end;
    for (; p < end; ++p) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      *p = x;
    }
    filled += ranges[r].end - ranges[r].start;
  }
  serial_puts("fill-ram: filled ");
  serial_put_dec(filled / MiB);
  serial_puts(" MiB\n");
  for (uint64_t n = 1;; ++n) {
    for (uint32_t round = 0; round < spin_rounds; ++round) spin_round();
    serial_puts("tick ");
    serial_put_dec(n);
    serial_putc('\n');
  }
}

static uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

void guest_main(const uint8_t* boot_params) {
  const char* command_line = boot_command_line(boot_params);
  spin_rounds = command_line_number(command_line, "spin=", DEFAULT_SPIN_ROUNDS);
  seed = command_line_number(command_line, "seed=", 1);

  const uint64_t fill_start = align_up((uint64_t)(uintptr_t)_end, PAGE_2MiB);
  const uint64_t base = (uint64_t)(uintptr_t)boot_params;
  const uint64_t entries = read_le(base + BP_E820_ENTRIES, 1);
  uint64_t ram = 0;
  uint64_t top = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t entry = base + BP_E820_TABLE + i * E820_ENTRY_SIZE;
    if (read_le(entry + 16, 4) != E820_RAM) continue;
    uint64_t start = read_le(entry, 8);
    const uint64_t end = start + read_le(entry + 8, 8);
    ram += end - start;
    if (start < fill_start) start = fill_start;
    if (start >= end || range_count == MAX_RANGES) continue;
    ranges[range_count].start = start;
    ranges[range_count].end = end;
    ++range_count;
    if (end > top) top = end;
  }
  serial_puts("fill-ram: ram=");
  serial_put_dec(ram / MiB);
  serial_puts(" MiB spin=");
  serial_put_dec(spin_rounds);
  serial_putc('\n');

  const uint64_t mapped_end = top > IDENTITY_MAPPED_GiB * GiB ? map_above_4gib(top) : top;
  if (mapped_end < top) {
    serial_puts("fill-ram: RAM above ");
    serial_put_hex(mapped_end);
    serial_puts(" is not filled\n");
  }
  int ok = user_mode_map_image();
  for (uint32_t r = 0; r < range_count; ++r) {
    if (ranges[r].end > mapped_end) ranges[r].end = mapped_end;
    if (ranges[r].start >= ranges[r].end) {
      ranges[r].end = ranges[r].start;
      continue;
    }
    /* Above 4 GiB the directories are already user-accessible. */
    if (ranges[r].start < IDENTITY_MAPPED_GiB * GiB) {
      ok = ok && user_mode_map(ranges[r].start, ranges[r].end - ranges[r].start);
    }
  }
  if (!ok) {
    serial_puts("fill-ram: cannot map for ring 3\n");
    return;
  }
  user_mode_enter(user_main, user_stack + sizeof user_stack);
}
