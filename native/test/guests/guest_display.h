/* The bochs-display adapter (PCI 1234:1111) for freestanding test guests:
   its DISPI registers through BAR 2 (MMIO, 16-bit registers at 0x500 +
   index * 2) or the legacy ports 0x1ce/0x1cf, and mode setting the way
   Linux's bochs-drm does it (disable, geometry, enable with the linear
   framebuffer). Header-only, static inline. */
#ifndef NESTBOX_GUEST_DISPLAY_H
#define NESTBOX_GUEST_DISPLAY_H

#include <stdint.h>

#include "guest_io.h"
#include "guest_pci.h"

#define DISPLAY_PCI_VENDOR 0x1234
#define DISPLAY_PCI_DEVICE 0x1111

#define DISPI_MMIO_OFFSET 0x500
#define DISPI_INDEX_PORT 0x1ce
#define DISPI_DATA_PORT 0x1cf

#define DISPI_INDEX_ID 0x0
#define DISPI_INDEX_XRES 0x1
#define DISPI_INDEX_YRES 0x2
#define DISPI_INDEX_BPP 0x3
#define DISPI_INDEX_ENABLE 0x4
#define DISPI_INDEX_BANK 0x5
#define DISPI_INDEX_VIRT_WIDTH 0x6
#define DISPI_INDEX_VIRT_HEIGHT 0x7
#define DISPI_INDEX_X_OFFSET 0x8
#define DISPI_INDEX_Y_OFFSET 0x9
#define DISPI_INDEX_VIDEO_MEMORY_64K 0xa

#define DISPI_ENABLED 0x01
#define DISPI_LFB_ENABLED 0x40
#define DISPI_NOCLEARMEM 0x80

/* Where a DISPI register file is reached: BAR 2 (mmio != 0) or the ports. */
struct dispi {
  volatile uint16_t* mmio; /* BAR 2 + 0x500, or 0 for the legacy ports */
};

static inline uint16_t dispi_read(const struct dispi* d, uint16_t index) {
  if (d->mmio != 0) return d->mmio[index];
  outw(DISPI_INDEX_PORT, index);
  return inw(DISPI_DATA_PORT);
}

static inline void dispi_write(const struct dispi* d, uint16_t index, uint16_t value) {
  if (d->mmio != 0) {
    d->mmio[index] = value;
    return;
  }
  outw(DISPI_INDEX_PORT, index);
  outw(DISPI_DATA_PORT, value);
}

/* Mode off, geometry, mode on with the linear framebuffer (the visible area
   is cleared unless `no_clear`). Returns 1 when the mode reads back. */
static inline int dispi_set_mode(const struct dispi* d, uint16_t width, uint16_t height,
                                 uint16_t bpp, int no_clear) {
  dispi_write(d, DISPI_INDEX_ENABLE, 0);
  dispi_write(d, DISPI_INDEX_BPP, bpp);
  dispi_write(d, DISPI_INDEX_XRES, width);
  dispi_write(d, DISPI_INDEX_YRES, height);
  dispi_write(d, DISPI_INDEX_BANK, 0);
  dispi_write(d, DISPI_INDEX_ENABLE,
              (uint16_t)(DISPI_ENABLED | DISPI_LFB_ENABLED | (no_clear ? DISPI_NOCLEARMEM : 0)));
  return dispi_read(d, DISPI_INDEX_XRES) == width && dispi_read(d, DISPI_INDEX_YRES) == height &&
         dispi_read(d, DISPI_INDEX_BPP) == bpp &&
         (dispi_read(d, DISPI_INDEX_ENABLE) & DISPI_ENABLED) != 0;
}

/* The visible 32-bpp frame a guest draws into. */
struct display_frame {
  volatile uint32_t* pixels;
  uint32_t width, height, stride; /* stride in pixels */
};

/* The display's current mode when it is a 32-bpp one (as Nestbox boots a
   kernel), else `fallback_width` x `fallback_height` x 32 set here (a VMM that
   sets no mode, e.g. QEMU; cleared unless `no_clear`). Turns on memory
   decoding. Returns 0 without a display or a usable mode. */
static inline int display_open_32bpp(uint16_t fallback_width, uint16_t fallback_height,
                                     int no_clear, struct display_frame* out) {
  struct pci_device pci;
  if (!pci_find(DISPLAY_PCI_VENDOR, DISPLAY_PCI_DEVICE, 0, &pci)) return 0;
  const uint16_t command = pci_config_read16(pci.slot, PCI_COMMAND);
  pci_config_write_command(pci.slot, command | PCI_COMMAND_MEMORY);
  const uint64_t fb = pci_bar_address(pci.slot, 0);
  const uint64_t mmio = pci_bar_address(pci.slot, 2);
  const struct dispi d = {(volatile uint16_t*)(uintptr_t)(mmio + DISPI_MMIO_OFFSET)};
  if (dispi_read(&d, DISPI_INDEX_BPP) != 32 ||
      (dispi_read(&d, DISPI_INDEX_ENABLE) & DISPI_ENABLED) == 0) {
    if (!dispi_set_mode(&d, fallback_width, fallback_height, 32, no_clear)) return 0;
  }
  out->width = dispi_read(&d, DISPI_INDEX_XRES);
  out->height = dispi_read(&d, DISPI_INDEX_YRES);
  out->stride = dispi_read(&d, DISPI_INDEX_VIRT_WIDTH);
  if (out->stride < out->width) out->stride = out->width;
  if (out->width == 0 || out->height == 0) return 0;
  out->pixels = (volatile uint32_t*)(uintptr_t)fb;
  return 1;
}

#endif
