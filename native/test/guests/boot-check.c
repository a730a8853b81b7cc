/* Checks what the VMM handed over through the Linux boot protocol, the way a
   kernel would read it, and prints one line per fact on COM1 for
   boot-protocol.test.ts to compare against what it asked for: the command
   line, the e820 map, the initrd (with a checksum of its bytes), and the ACPI
   tables (RSDP through boot_params and through the legacy BIOS-area scan,
   XSDT, MADT and its Local APIC count). Every loop is short: CPL-0 code is
   emulated on the CI machines. */
#include "guest_io.h"

/* struct boot_params offsets (Documentation/arch/x86/zero-page.rst, boot.rst). */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2d0
#define E820_ENTRY_SIZE 20
#define E820_RAM 1
#define E820_RESERVED 2

#define MAX_COMMAND_LINE 2048
#define KERNEL_START 0x100000ull
#define BIOS_AREA_START 0xe0000ull
#define BIOS_AREA_END 0x100000ull

extern char _end[];  /* guest.ld: the end of this image, bss included */

static uint64_t read_le(uint64_t address, int bytes) {
  const volatile uint8_t* p = (const volatile uint8_t*)(uintptr_t)address;
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

static uint8_t byte_sum(uint64_t address, uint64_t length) {
  const volatile uint8_t* p = (const volatile uint8_t*)(uintptr_t)address;
  uint8_t sum = 0;
  for (uint64_t i = 0; i < length; ++i) sum = (uint8_t)(sum + p[i]);
  return sum;
}

static int signature_is(uint64_t address, const char* signature, int length) {
  const volatile char* p = (const volatile char*)(uintptr_t)address;
  for (int i = 0; i < length; ++i) {
    if (p[i] != signature[i]) return 0;
  }
  return 1;
}

static void put_dec(uint64_t value) {
  char text[21];
  int length = 0;
  do {
    text[length++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (length > 0) serial_putc(text[--length]);
}

static const char* yes_no(int condition) { return condition ? "yes" : "no"; }

static void check_command_line(const uint8_t* bp) {
  const uint64_t address =
      read_le((uint64_t)(uintptr_t)bp + BP_CMD_LINE_PTR, 4) |
      (read_le((uint64_t)(uintptr_t)bp + BP_EXT_CMD_LINE_PTR, 4) << 32);
  serial_puts("cmdline: ");
  const volatile char* text = (const volatile char*)(uintptr_t)address;
  for (int i = 0; address != 0 && i < MAX_COMMAND_LINE && text[i] != '\0'; ++i) {
    serial_putc(text[i]);
  }
  serial_putc('\n');
}

static void check_header(const uint8_t* bp) {
  const uint64_t base = (uint64_t)(uintptr_t)bp;
  serial_puts("header: version=");
  serial_put_hex(read_le(base + BP_VERSION, 2));
  serial_puts(" type_of_loader=");
  serial_put_hex(read_le(base + BP_TYPE_OF_LOADER, 1));
  serial_puts(" loadflags=");
  serial_put_hex(read_le(base + BP_LOADFLAGS, 1));
  serial_putc('\n');
}

/* True when [start, end) lies inside one entry of the given type. */
static int e820_covers(uint64_t table, uint64_t count, uint64_t start, uint64_t end,
                       uint32_t type) {
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t entry = table + i * E820_ENTRY_SIZE;
    const uint64_t address = read_le(entry, 8);
    const uint64_t size = read_le(entry + 8, 8);
    if (read_le(entry + 16, 4) == type && address <= start && end <= address + size) return 1;
  }
  return 0;
}

static void check_e820(const uint8_t* bp) {
  const uint64_t base = (uint64_t)(uintptr_t)bp;
  const uint64_t count = read_le(base + BP_E820_ENTRIES, 1);
  const uint64_t table = base + BP_E820_TABLE;
  int sorted = 1;
  int overlap = 0;
  uint64_t previous_address = 0;
  uint64_t previous_end = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t entry = table + i * E820_ENTRY_SIZE;
    const uint64_t address = read_le(entry, 8);
    const uint64_t size = read_le(entry + 8, 8);
    serial_puts("e820: ");
    serial_put_hex(address);
    serial_putc(' ');
    serial_put_hex(size);
    serial_putc(' ');
    put_dec(read_le(entry + 16, 4));
    serial_putc('\n');
    if (i > 0 && address < previous_address) sorted = 0;
    if (i > 0 && address < previous_end) overlap = 1;
    previous_address = address;
    previous_end = address + size;
  }
  serial_puts("e820 check: entries=");
  put_dec(count);
  serial_puts(" sorted=");
  serial_puts(yes_no(sorted));
  serial_puts(" overlap=");
  serial_puts(yes_no(overlap));
  serial_puts(" kernel-in-ram=");
  serial_puts(yes_no(e820_covers(table, count, KERNEL_START, (uint64_t)(uintptr_t)_end, E820_RAM)));
  serial_puts(" bios-area-reserved=");
  serial_puts(yes_no(e820_covers(table, count, BIOS_AREA_START, BIOS_AREA_END, E820_RESERVED)));
  serial_putc('\n');
}

/* FNV-1a, 32 bits: boot-protocol.test.ts computes the same over the file. */
static uint32_t fnv1a(uint64_t address, uint64_t length) {
  const volatile uint8_t* p = (const volatile uint8_t*)(uintptr_t)address;
  uint32_t hash = 2166136261u;
  for (uint64_t i = 0; i < length; ++i) {
    hash ^= p[i];
    hash *= 16777619u;
  }
  return hash;
}

static void check_initrd(const uint8_t* bp) {
  const uint64_t base = (uint64_t)(uintptr_t)bp;
  const uint64_t address =
      read_le(base + BP_RAMDISK_IMAGE, 4) | (read_le(base + BP_EXT_RAMDISK_IMAGE, 4) << 32);
  const uint64_t size =
      read_le(base + BP_RAMDISK_SIZE, 4) | (read_le(base + BP_EXT_RAMDISK_SIZE, 4) << 32);
  if (address == 0 || size == 0) {
    serial_puts("initrd: none\n");
    return;
  }
  serial_puts("initrd: address=");
  serial_put_hex(address);
  serial_puts(" size=");
  serial_put_hex(size);
  serial_puts(" fnv1a=");
  serial_put_hex(fnv1a(address, size));
  serial_puts(" page-aligned=");
  serial_puts(yes_no((address & 0xfff) == 0));
  serial_puts(" above-kernel=");
  serial_puts(yes_no(address >= (uint64_t)(uintptr_t)_end));
  serial_putc('\n');
}

static uint64_t scan_for_rsdp(void) {
  for (uint64_t address = BIOS_AREA_START; address < BIOS_AREA_END; address += 16) {
    if (signature_is(address, "RSD PTR ", 8) && byte_sum(address, 20) == 0) return address;
  }
  return 0;
}

/* An ACPI table header's checksum covers the whole table (its length field). */
static int table_ok(uint64_t address, const char* signature) {
  return address != 0 && signature_is(address, signature, 4) &&
         byte_sum(address, read_le(address + 4, 4)) == 0;
}

static void check_madt(uint64_t madt) {
  const uint64_t length = read_le(madt + 4, 4);
  uint64_t lapics = 0;
  for (uint64_t offset = 44; offset + 2 <= length;) {
    const uint64_t type = read_le(madt + offset, 1);
    const uint64_t entry_length = read_le(madt + offset + 1, 1);
    if (entry_length < 2) break;
    if (type == 0 && (read_le(madt + offset + 4, 4) & 1) != 0) ++lapics;      /* Local APIC */
    if (type == 9 && (read_le(madt + offset + 8, 4) & 1) != 0) ++lapics;      /* x2APIC */
    offset += entry_length;
  }
  serial_puts("madt: checksum=ok lapic=");
  put_dec(lapics);
  serial_putc('\n');
}

static void check_acpi(const uint8_t* bp) {
  const uint64_t from_boot_params = read_le((uint64_t)(uintptr_t)bp + BP_ACPI_RSDP_ADDR, 8);
  const uint64_t scanned = scan_for_rsdp();
  serial_puts("rsdp: boot_params=");
  serial_put_hex(from_boot_params);
  serial_puts(" scan=");
  serial_put_hex(scanned);
  const uint64_t rsdp = from_boot_params != 0 ? from_boot_params : scanned;
  if (rsdp == 0 || !signature_is(rsdp, "RSD PTR ", 8)) {
    serial_puts(" valid=no\n");
    return;
  }
  const uint64_t revision = read_le(rsdp + 15, 1);
  const int checksum = byte_sum(rsdp, 20) == 0 &&
                       (revision < 2 || byte_sum(rsdp, read_le(rsdp + 20, 4)) == 0);
  serial_puts(" revision=");
  put_dec(revision);
  serial_puts(" checksum=");
  serial_puts(checksum ? "ok" : "bad");
  serial_putc('\n');
  if (!checksum || revision < 2) return;

  const uint64_t xsdt = read_le(rsdp + 24, 8);
  if (!table_ok(xsdt, "XSDT")) {
    serial_puts("xsdt: checksum=bad\n");
    return;
  }
  const uint64_t entries = (read_le(xsdt + 4, 4) - 36) / 8;
  serial_puts("xsdt: checksum=ok entries=");
  put_dec(entries);
  serial_putc('\n');
  for (uint64_t i = 0; i < entries && i < 32; ++i) {
    const uint64_t table = read_le(xsdt + 36 + i * 8, 8);
    if (signature_is(table, "APIC", 4)) {
      if (!table_ok(table, "APIC")) {
        serial_puts("madt: checksum=bad\n");
        return;
      }
      check_madt(table);
      return;
    }
  }
  serial_puts("madt: missing\n");
}

void guest_main(const uint8_t* boot_params) {
  serial_puts("boot-check: start\n");
  if (boot_params == 0) {
    serial_puts("boot-check: no boot_params\n");
    return;
  }
  check_command_line(boot_params);
  check_header(boot_params);
  check_e820(boot_params);
  check_initrd(boot_params);
  check_acpi(boot_params);
  serial_puts("boot-check: done\n");
}
