/* Enumerates PCI bus 0 twice, through configuration mechanism #1
   (0xCF8/0xCFC) and through ECAM (0xE0000000), and prints one line per
   present device for each, in the same format, so virtio-devices.test.ts can
   check the IDs, BAR 0 (address, size by the all-ones probe, type bits), the
   interrupt pin/line and the capabilities, and that both mechanisms agree:

     cf8 slot=04 id=1af4:1042 rev=01 class=010000 hdr=00 cmd=0006 bar0=0xc0000004 \
       size=0x8000 type=mem64 pin=1 line=11 caps=common,notify,isr,device,pci-cfg,msix msix=2 mult=4

   then "<mechanism> devices=N" and, last, whether the conventional 256 bytes
   of every present function read the same both ways, and "pci-enum done". */
#include "guest_io.h"
#include "guest_pci.h"

typedef uint32_t (*read_fn)(uint8_t slot, uint16_t offset);
typedef void (*write_fn)(uint8_t slot, uint16_t offset, uint32_t value);

static void put_hex_width(uint64_t value, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) serial_putc(hex[(value >> (4 * i)) & 0xf]);
}

static uint8_t read8(read_fn read, uint8_t slot, uint16_t offset) {
  return (uint8_t)(read(slot, offset) >> ((offset & 3) * 8));
}

/* BAR 0 size by the all-ones probe through this mechanism, memory decoding off meanwhile. */
static uint64_t bar0_size(read_fn read, write_fn write, uint8_t slot) {
  const uint32_t command = read(slot, PCI_COMMAND) & 0xffff;
  const uint32_t low = read(slot, PCI_BAR0);
  const int is64 = !(low & PCI_BAR_IO) && (low & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM_TYPE_64;
  const uint32_t high = is64 ? read(slot, PCI_BAR0 + 4) : 0;
  write(slot, PCI_COMMAND, command & ~(uint32_t)(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  write(slot, PCI_BAR0, 0xffffffffu);
  const uint32_t low_mask = read(slot, PCI_BAR0);
  uint32_t high_mask = 0;
  if (is64) {
    write(slot, PCI_BAR0 + 4, 0xffffffffu);
    high_mask = read(slot, PCI_BAR0 + 4);
    write(slot, PCI_BAR0 + 4, high);
  }
  write(slot, PCI_BAR0, low);
  write(slot, PCI_COMMAND, command);
  if (low & PCI_BAR_IO) {
    const uint32_t mask = low_mask & 0xfffcu;
    return mask == 0 ? 0 : ((~mask + 1) & 0xffffu);
  }
  const uint64_t mask = ((uint64_t)high_mask << 32) | (low_mask & ~0xfu);
  if (mask == 0) return 0;
  if (!is64) return (uint32_t)(~(uint32_t)mask + 1);
  return ~mask + 1;
}

static int describe(const char* name, read_fn read, write_fn write, uint8_t slot) {
  const uint32_t id = read(slot, PCI_VENDOR_ID);
  if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) return 0;
  const uint32_t class_revision = read(slot, PCI_CLASS_REVISION);
  const uint32_t command_status = read(slot, PCI_COMMAND);
  const uint32_t bar0 = read(slot, PCI_BAR0);
  const uint32_t interrupt = read(slot, PCI_INTERRUPT_LINE);
  const int is64 = !(bar0 & PCI_BAR_IO) && (bar0 & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM_TYPE_64;
  uint64_t address = (bar0 & PCI_BAR_IO) ? (bar0 & ~3u) : (bar0 & ~0xfu);
  if (is64) address |= (uint64_t)read(slot, PCI_BAR0 + 4) << 32;

  serial_puts(name);
  serial_puts(" slot=");
  put_hex_width(slot, 2);
  serial_puts(" id=");
  put_hex_width(id & 0xffff, 4);
  serial_putc(':');
  put_hex_width(id >> 16, 4);
  serial_puts(" rev=");
  put_hex_width(class_revision & 0xff, 2);
  serial_puts(" class=");
  put_hex_width(class_revision >> 8, 6);
  serial_puts(" hdr=");
  put_hex_width(read8(read, slot, PCI_HEADER_TYPE), 2);
  serial_puts(" cmd=");
  put_hex_width(command_status & 0xffff, 4);
  serial_puts(" bar0=");
  serial_put_hex(address);
  serial_puts(" size=");
  serial_put_hex(bar0 == 0 ? 0 : bar0_size(read, write, slot));
  serial_puts(" type=");
  if (bar0 == 0) {
    serial_puts("none");
  } else if (bar0 & PCI_BAR_IO) {
    serial_puts("io");
  } else {
    serial_puts(is64 ? "mem64" : ((bar0 & PCI_BAR_MEM_TYPE_MASK) == 0 ? "mem32" : "mem-reserved"));
    if (bar0 & PCI_BAR_PREFETCH) serial_puts(",pf");
  }
  serial_puts(" pin=");
  serial_put_dec((interrupt >> 8) & 0xff);
  serial_puts(" line=");
  serial_put_dec(interrupt & 0xff);

  /* Capabilities: virtio vendor capabilities by cfg_type, and MSI-X. */
  int found[6] = {0, 0, 0, 0, 0, 0};
  int msix = 0;
  uint32_t msix_size = 0;
  uint32_t multiplier = 0;
  int others = 0;
  if ((command_status >> 16) & PCI_STATUS_CAP_LIST) {
    uint8_t position = read8(read, slot, PCI_CAPABILITY_LIST);
    for (int guard = 0; guard < 48 && position >= 0x40; ++guard) {
      position &= 0xfc;
      const uint32_t header = read(slot, position);
      const uint8_t cap_id = (uint8_t)header;
      if (cap_id == PCI_CAP_ID_VNDR) {
        const uint8_t cfg_type = (uint8_t)(header >> 24);
        if (cfg_type >= 1 && cfg_type <= 5) found[cfg_type] = 1;
        if (cfg_type == 2) multiplier = read(slot, (uint16_t)(position + 16));
      } else if (cap_id == PCI_CAP_ID_MSIX) {
        msix = 1;
        msix_size = ((header >> 16) & 0x7ff) + 1;
      } else {
        ++others;
      }
      position = (uint8_t)(header >> 8);
    }
  }
  static const char* const names[6] = {"", "common", "notify", "isr", "device", "pci-cfg"};
  serial_puts(" caps=");
  int any = 0;
  for (int i = 1; i <= 5; ++i) {
    if (!found[i]) continue;
    if (any) serial_putc(',');
    serial_puts(names[i]);
    any = 1;
  }
  if (msix) {
    if (any) serial_putc(',');
    serial_puts("msix");
    any = 1;
  }
  if (others) {
    if (any) serial_putc(',');
    serial_puts("other");
    any = 1;
  }
  if (!any) serial_puts("none");
  if (msix) {
    serial_puts(" msix=");
    serial_put_dec(msix_size);
  }
  if (found[2]) {
    serial_puts(" mult=");
    serial_put_dec(multiplier);
  }
  serial_putc('\n');
  return 1;
}

static void enumerate(const char* name, read_fn read, write_fn write) {
  int count = 0;
  for (uint8_t slot = 0; slot < PCI_SLOTS; ++slot) count += describe(name, read, write, slot);
  serial_puts(name);
  serial_puts(" devices=");
  serial_put_dec((uint64_t)count);
  serial_putc('\n');
}

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  serial_puts("pci-enum start\n");
  enumerate("cf8", pci_config_read32, pci_config_write32);
  enumerate("ecam", pci_ecam_read32, pci_ecam_write32);

  /* The same 256 bytes both ways, for every present function; absent slots
     read all ones both ways. */
  int differ = 0;
  int absent_ok = 1;
  for (uint8_t slot = 0; slot < PCI_SLOTS; ++slot) {
    const uint32_t id = pci_config_read32(slot, 0);
    if (id == 0xffffffffu) {
      if (pci_ecam_read32(slot, 0) != 0xffffffffu) absent_ok = 0;
      continue;
    }
    for (uint16_t offset = 0; offset < 256; offset += 4) {
      if (pci_config_read32(slot, offset) != pci_ecam_read32(slot, offset)) {
        ++differ;
        serial_puts("config differs: slot=");
        put_hex_width(slot, 2);
        serial_puts(" offset=");
        put_hex_width(offset, 2);
        serial_putc('\n');
      }
    }
  }
  serial_puts("compare: differing-dwords=");
  serial_put_dec((uint64_t)differ);
  serial_puts(" absent-all-ones=");
  serial_puts(absent_ok ? "yes" : "no");
  serial_putc('\n');

  /* The library helpers agree with the raw probe above. */
  struct pci_device devices[PCI_SLOTS];
  const int count = pci_enumerate(devices, PCI_SLOTS);
  for (int i = 0; i < count; ++i) {
    serial_puts("lib slot=");
    put_hex_width(devices[i].slot, 2);
    serial_puts(" id=");
    put_hex_width(devices[i].vendor, 4);
    serial_putc(':');
    put_hex_width(devices[i].device, 4);
    serial_puts(" class=");
    put_hex_width(devices[i].class_code, 2);
    put_hex_width(devices[i].subclass, 2);
    put_hex_width(devices[i].prog_if, 2);
    serial_puts(" bar0=");
    serial_put_hex(pci_bar_address(devices[i].slot, 0));
    serial_puts(" size=");
    serial_put_hex(pci_bar_size(devices[i].slot, 0));
    serial_puts(" msix-cap=");
    serial_put_hex(pci_find_capability(devices[i].slot, PCI_CAP_ID_MSIX, 0));
    serial_putc('\n');
  }

  /* BAR 0 still decodes after all that sizing: each virtio device's common
     configuration answers (num_queues at +0x12). Then, on the last virtio
     device: decoding off, on, BAR 0 moved to 0xd0000000 (old address no
     longer answers), and moved back. Unclaimed MMIO reads are expected to
     read all ones. */
  int last_virtio = -1;
  for (int i = 0; i < count; ++i) {
    if (devices[i].vendor != 0x1af4) continue;
    last_virtio = i;
    const uint64_t bar = pci_bar_address(devices[i].slot, 0);
    serial_puts("bar-live slot=");
    put_hex_width(devices[i].slot, 2);
    serial_puts(" num_queues=");
    serial_put_dec(*(volatile uint16_t*)(uintptr_t)(bar + 0x12));
    serial_putc('\n');
  }
  if (last_virtio >= 0) {
    const uint8_t slot = devices[last_virtio].slot;
    const uint64_t bar = pci_bar_address(slot, 0);
    const uint32_t low = pci_config_read32(slot, PCI_BAR0);
    const uint32_t high = pci_config_read32(slot, PCI_BAR0 + 4);
    const uint16_t command = pci_config_read16(slot, PCI_COMMAND);
    const uint64_t moved = 0xd0000000ull;
    volatile uint16_t* at_old = (volatile uint16_t*)(uintptr_t)(bar + 0x12);
    volatile uint16_t* at_new = (volatile uint16_t*)(uintptr_t)(moved + 0x12);

    pci_config_write_command(slot, command & (uint16_t)~PCI_COMMAND_MEMORY);
    const uint16_t off = *at_old;
    pci_config_write_command(slot, command | PCI_COMMAND_MEMORY);
    const uint16_t on = *at_old;
    pci_config_write_command(slot, command & (uint16_t)~PCI_COMMAND_MEMORY);
    pci_config_write32(slot, PCI_BAR0, (uint32_t)moved | (low & 0xf));
    pci_config_write32(slot, PCI_BAR0 + 4, 0);
    pci_config_write_command(slot, command | PCI_COMMAND_MEMORY);
    const uint64_t readback = pci_bar_address(slot, 0);
    const uint16_t new_value = *at_new;
    const uint16_t old_value = *at_old;
    pci_config_write_command(slot, command & (uint16_t)~PCI_COMMAND_MEMORY);
    pci_config_write32(slot, PCI_BAR0, low);
    pci_config_write32(slot, PCI_BAR0 + 4, high);
    pci_config_write_command(slot, command);
    const uint16_t restored = *at_old;
    const uint16_t new_after = *at_new;

    serial_puts("bar-move slot=");
    put_hex_width(slot, 2);
    serial_puts(" decoding-off=");
    put_hex_width(off, 4);
    serial_puts(" decoding-on=");
    put_hex_width(on, 4);
    serial_puts(" bar=");
    serial_put_hex(readback);
    serial_puts(" new=");
    put_hex_width(new_value, 4);
    serial_puts(" old=");
    put_hex_width(old_value, 4);
    serial_puts(" restored=");
    put_hex_width(restored, 4);
    serial_puts(" new-after=");
    put_hex_width(new_after, 4);
    serial_putc('\n');
  }
  serial_puts("pci-enum done\n");
}
