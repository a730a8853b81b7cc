/* Drives the bochs-display adapter for display.test.ts: finds it with
   guest_pci.h, reports its BARs, EDID header and the DISPI registers the
   VMM left (the direct-boot mode), then obeys one-byte commands on COM1:

     '1'  mode 320x200x32 through DISPI in BAR 2  -> "mode 1 320x200x32 ok ..."
     '2'  mode 640x480x32                         -> "mode 2 640x480x32 ok ..."
     'd'  draws the current mode's pattern        -> "drawn <mode>"
     'h'  "halt", then cli; hlt for good (the VMM stops the machine)
     'i'  "idle", then sti; hlt: an idle guest, still running, that never
          touches the screen again (nothing raises an interrupt here)

   The pattern of pixel (x, y), XRGB8888 with X = 0:
     blue  = (x + 2y + seed) & 0xff
     green = ((x ^ y) + 3 seed) & 0xff
     red   = (x * y + seed) & 0xff
   seed 0x11 in mode 1, 0x5a in mode 2. Without the display it prints
   "display: none", waits for one byte and halts. */
#include "guest_display.h"
#include "guest_io.h"
#include "guest_pci.h"

struct mode {
  uint16_t width, height;
  uint32_t seed;
};

static const struct mode modes[3] = {{0, 0, 0}, {320, 200, 0x11}, {640, 480, 0x5a}};

static void put_hex_width(uint64_t value, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) serial_putc(hex[(value >> (4 * i)) & 0xf]);
}

static void put_field(const char* name, uint64_t value) {
  serial_putc(' ');
  serial_puts(name);
  serial_putc('=');
  serial_put_dec(value);
}

static void report_registers(const struct dispi* d) {
  put_field("xres", dispi_read(d, DISPI_INDEX_XRES));
  put_field("yres", dispi_read(d, DISPI_INDEX_YRES));
  put_field("bpp", dispi_read(d, DISPI_INDEX_BPP));
  serial_puts(" enable=");
  put_hex_width(dispi_read(d, DISPI_INDEX_ENABLE), 4);
  put_field("virt-width", dispi_read(d, DISPI_INDEX_VIRT_WIDTH));
  put_field("x-offset", dispi_read(d, DISPI_INDEX_X_OFFSET));
  put_field("y-offset", dispi_read(d, DISPI_INDEX_Y_OFFSET));
}

static void draw(uint64_t framebuffer, const struct mode* m, uint32_t stride_pixels) {
  for (uint32_t y = 0; y < m->height; ++y) {
    uint32_t* row = (uint32_t*)(uintptr_t)(framebuffer + (uint64_t)y * stride_pixels * 4);
    const uint32_t blue = 2 * y + m->seed;
    const uint32_t green = 3 * m->seed;
    const uint32_t red = m->seed;
    for (uint32_t x = 0; x < m->width; ++x) {
      row[x] = ((x + blue) & 0xff) | ((((x ^ y) + green) & 0xff) << 8) |
               (((x * y + red) & 0xff) << 16);
    }
  }
  __asm__ volatile("" : : : "memory");
}

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  struct pci_device pci;
  if (!pci_find(DISPLAY_PCI_VENDOR, DISPLAY_PCI_DEVICE, 0, &pci)) {
    serial_puts("display: none\n");
    serial_getc();
    return;
  }
  const uint16_t command = pci_config_read16(pci.slot, PCI_COMMAND);
  pci_config_write_command(pci.slot, command | PCI_COMMAND_MEMORY);
  const uint64_t framebuffer = pci_bar_address(pci.slot, 0);
  const uint64_t mmio = pci_bar_address(pci.slot, 2);
  const uint32_t bar0 = pci_config_read32(pci.slot, PCI_BAR0);
  const uint32_t bar2 = pci_config_read32(pci.slot, PCI_BAR0 + 8);

  serial_puts("display: slot=");
  put_hex_width(pci.slot, 2);
  serial_puts(" bar0=");
  serial_put_hex(framebuffer);
  serial_puts(" bar0-flags=");
  put_hex_width(bar0 & 0xf, 1);
  serial_puts(" size0=");
  serial_put_hex(pci_bar_size(pci.slot, 0));
  serial_puts(" bar2=");
  serial_put_hex(mmio);
  serial_puts(" bar2-flags=");
  put_hex_width(bar2 & 0xf, 1);
  serial_puts(" size2=");
  serial_put_hex(pci_bar_size(pci.slot, 2));
  serial_puts(" edid=");
  for (int i = 0; i < 8; ++i) put_hex_width(*(volatile uint8_t*)(uintptr_t)(mmio + i), 2);
  serial_putc('\n');

  const struct dispi d = {(volatile uint16_t*)(uintptr_t)(mmio + DISPI_MMIO_OFFSET)};
  serial_puts("dispi: id=");
  put_hex_width(dispi_read(&d, DISPI_INDEX_ID), 4);
  put_field("vram64k", dispi_read(&d, DISPI_INDEX_VIDEO_MEMORY_64K));
  report_registers(&d);
  serial_putc('\n');

  int current = 0;
  for (;;) {
    const uint8_t byte = serial_getc();
    if (byte == '1' || byte == '2') {
      current = byte - '0';
      const struct mode* m = &modes[current];
      const int ok = dispi_set_mode(&d, m->width, m->height, 32, 0);
      serial_puts("mode ");
      serial_putc((char)byte);
      serial_putc(' ');
      serial_put_dec(m->width);
      serial_putc('x');
      serial_put_dec(m->height);
      serial_puts("x32 ");
      serial_puts(ok ? "ok" : "failed");
      report_registers(&d);
      serial_putc('\n');
    } else if (byte == 'd' && current != 0) {
      draw(framebuffer, &modes[current], dispi_read(&d, DISPI_INDEX_VIRT_WIDTH));
      serial_puts("drawn ");
      serial_put_dec((uint64_t)current);
      serial_putc('\n');
    } else if (byte == 'h') {
      serial_puts("halt\n");
      return;
    } else if (byte == 'i') {
      serial_puts("idle\n");
      for (;;) __asm__ volatile("sti; hlt" : : : "memory");
    } else {
      serial_puts("unknown command\n");
    }
  }
}
