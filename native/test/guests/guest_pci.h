/* PCI configuration access for freestanding test guests: bus 0, function 0,
   through configuration mechanism #1 (0xCF8/0xCFC) and through ECAM at
   0xE0000000 (identity-mapped by the VMM's boot page tables). Header-only,
   static inline. Every loop is bounded and short: CPL-0 code is emulated on
   the CI machines. */
#ifndef NESTBOX_GUEST_PCI_H
#define NESTBOX_GUEST_PCI_H

#include <stdint.h>

#include "guest_io.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_ECAM_BASE 0xe0000000ull
#define PCI_SLOTS 32

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REVISION 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS_CAP_LIST 0x10

#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

#define PCI_BAR_IO 0x1
#define PCI_BAR_MEM_TYPE_MASK 0x6
#define PCI_BAR_MEM_TYPE_64 0x4
#define PCI_BAR_PREFETCH 0x8

struct pci_device {
  uint8_t slot;
  uint16_t vendor, device;
  uint8_t class_code, subclass, prog_if;
  uint8_t irq_line, irq_pin;
};

static inline void pci_io_outl(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint32_t pci_io_inl(uint16_t port) {
  uint32_t value;
  __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

static inline uint32_t pci_config_address(uint8_t slot, uint16_t offset) {
  return 0x80000000u | ((uint32_t)(slot & 0x1f) << 11) | (offset & 0xfc);
}

/* Bus 0, function 0, via 0xCF8/0xCFC. `offset` is rounded down to a dword. */
static inline uint32_t pci_config_read32(uint8_t slot, uint16_t offset) {
  pci_io_outl(PCI_CONFIG_ADDRESS, pci_config_address(slot, offset));
  return pci_io_inl(PCI_CONFIG_DATA);
}

static inline void pci_config_write32(uint8_t slot, uint16_t offset, uint32_t value) {
  pci_io_outl(PCI_CONFIG_ADDRESS, pci_config_address(slot, offset));
  pci_io_outl(PCI_CONFIG_DATA, value);
}

/* ECAM at 0xE0000000, bus 0, function 0 (the whole 4 KiB space). */
static inline uint32_t pci_ecam_read32(uint8_t slot, uint16_t offset) {
  return *(volatile uint32_t*)(uintptr_t)(PCI_ECAM_BASE + ((uint64_t)(slot & 0x1f) << 15) +
                                         (offset & 0xffc));
}

static inline void pci_ecam_write32(uint8_t slot, uint16_t offset, uint32_t value) {
  *(volatile uint32_t*)(uintptr_t)(PCI_ECAM_BASE + ((uint64_t)(slot & 0x1f) << 15) +
                                  (offset & 0xffc)) = value;
}

static inline uint8_t pci_config_read8(uint8_t slot, uint16_t offset) {
  return (uint8_t)(pci_config_read32(slot, offset) >> ((offset & 3) * 8));
}

static inline uint16_t pci_config_read16(uint8_t slot, uint16_t offset) {
  return (uint16_t)(pci_config_read32(slot, offset) >> ((offset & 2) * 8));
}

/* Read-modify-write of the 16-bit command register (the status half is
   write-1-to-clear: written as zero). */
static inline void pci_config_write_command(uint8_t slot, uint16_t command) {
  pci_config_write32(slot, PCI_COMMAND, command);
}

static inline void pci_fill_device(uint8_t slot, uint32_t id, struct pci_device* out) {
  const uint32_t class_revision = pci_config_read32(slot, PCI_CLASS_REVISION);
  const uint32_t interrupt = pci_config_read32(slot, PCI_INTERRUPT_LINE);
  out->slot = slot;
  out->vendor = (uint16_t)id;
  out->device = (uint16_t)(id >> 16);
  out->class_code = (uint8_t)(class_revision >> 24);
  out->subclass = (uint8_t)(class_revision >> 16);
  out->prog_if = (uint8_t)(class_revision >> 8);
  out->irq_line = (uint8_t)interrupt;
  out->irq_pin = (uint8_t)(interrupt >> 8);
}

/* Every present slot on bus 0 (function 0), in slot order; returns how many
   (at most `max` are stored). */
static inline int pci_enumerate(struct pci_device* out, int max) {
  int count = 0;
  for (uint8_t slot = 0; slot < PCI_SLOTS && count < max; ++slot) {
    const uint32_t id = pci_config_read32(slot, PCI_VENDOR_ID);
    if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) continue;
    pci_fill_device(slot, id, &out[count++]);
  }
  return count;
}

/* The nth (from 0) function with these IDs: 1 and *out filled, or 0. */
static inline int pci_find(uint16_t vendor, uint16_t device, int nth, struct pci_device* out) {
  for (uint8_t slot = 0; slot < PCI_SLOTS; ++slot) {
    const uint32_t id = pci_config_read32(slot, PCI_VENDOR_ID);
    if ((uint16_t)id != vendor || (uint16_t)(id >> 16) != device) continue;
    if (nth-- == 0) {
      pci_fill_device(slot, id, out);
      return 1;
    }
  }
  return 0;
}

/* BAR `bar`'s decoded address: I/O BARs without bits 1:0, memory BARs without
   bits 3:0, 64-bit memory BARs combined with the next register. */
static inline uint64_t pci_bar_address(uint8_t slot, int bar) {
  const uint16_t offset = (uint16_t)(PCI_BAR0 + 4 * bar);
  const uint32_t low = pci_config_read32(slot, offset);
  if (low & PCI_BAR_IO) return low & ~0x3u;
  uint64_t address = low & ~0xfu;
  if ((low & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM_TYPE_64 && bar < 5) {
    address |= (uint64_t)pci_config_read32(slot, (uint16_t)(offset + 4)) << 32;
  }
  return address;
}

/* BAR `bar`'s size, by writing all ones and reading back (decoding is turned
   off meanwhile, as an OS does), then restoring the BAR and the command
   register. 0 for an unimplemented BAR. */
static inline uint64_t pci_bar_size(uint8_t slot, int bar) {
  const uint16_t offset = (uint16_t)(PCI_BAR0 + 4 * bar);
  const uint16_t command = pci_config_read16(slot, PCI_COMMAND);
  const uint32_t low = pci_config_read32(slot, offset);
  const int is64 = !(low & PCI_BAR_IO) && (low & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM_TYPE_64 &&
                   bar < 5;
  const uint32_t high = is64 ? pci_config_read32(slot, (uint16_t)(offset + 4)) : 0;

  pci_config_write_command(slot, command & (uint16_t) ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  pci_config_write32(slot, offset, 0xffffffffu);
  const uint32_t low_mask = pci_config_read32(slot, offset);
  uint32_t high_mask = 0xffffffffu;
  if (is64) {
    pci_config_write32(slot, (uint16_t)(offset + 4), 0xffffffffu);
    high_mask = pci_config_read32(slot, (uint16_t)(offset + 4));
    pci_config_write32(slot, (uint16_t)(offset + 4), high);
  }
  pci_config_write32(slot, offset, low);
  pci_config_write_command(slot, command);

  if (low & PCI_BAR_IO) {
    const uint32_t mask = low_mask & ~0x3u & 0xffffu;
    return mask == 0 ? 0 : (uint64_t)((~mask + 1) & 0xffffu);
  }
  const uint64_t mask = ((uint64_t)high_mask << 32) | (low_mask & ~0xfu);
  if ((mask & 0xffffffffu) == 0 && (!is64 || high_mask == 0)) return 0;
  if (!is64) return (uint64_t)(uint32_t)(~(uint32_t)mask + 1);
  return ~mask + 1;
}

/* The offset of the next capability with ID `cap_id` after the one at
   `start` (start 0: from the beginning of the list), or 0 when none. */
static inline uint8_t pci_find_capability(uint8_t slot, uint8_t cap_id, uint8_t start) {
  uint8_t position;
  if (start == 0) {
    if ((pci_config_read16(slot, PCI_STATUS) & PCI_STATUS_CAP_LIST) == 0) return 0;
    position = pci_config_read8(slot, PCI_CAPABILITY_LIST);
  } else {
    position = pci_config_read8(slot, (uint16_t)(start + 1));
  }
  for (int guard = 0; guard < 48 && position >= 0x40; ++guard) {
    position &= 0xfc;
    const uint32_t header = pci_config_read32(slot, position);
    if ((uint8_t)header == cap_id) return position;
    position = (uint8_t)(header >> 8);
  }
  return 0;
}

#endif
