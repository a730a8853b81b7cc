/* The guest of bench/display.bench.ts: draws on the bochs-display adapter's
   linear framebuffer from ring 3, where the CI machines' nested KVM runs
   guest code natively (at CPL 0 it emulates it, ~1000x slower).

   At CPL 0 it finds the adapter (guest_pci.h), reads the mode the VMM left
   enabled (the direct-boot mode, 32 bpp), prints

     "bench-display: fb=0x... WIDTHxHEIGHT stride=PIXELS"

   sets U/S on the page-table entries of its own image and of the visible
   framebuffer, and drops to CPL 3 with IOPL 3 (guest_user_mode.h). In ring 3
   it prints "ring3 cpl=3" and obeys COM1 bytes (polling LSR):

     0x01..0x3f  latency probe k: fills the 64x64 block at (256, 256) with
                 color(k) = red k, green 255 - k, blue 4k (XRGB8888
                 0x00RRGGBB), then echoes k. The stores are done before the
                 echo leaves (an OUT drains the store buffer).
     'F'         redraw mode: fills the WHOLE visible frame again and again,
                 pass n in the solid color n * 0x010307 (low 24 bits), with
                 8-byte stores (rep stosq), all but pixel (0, 0), which it
                 then sets to n (low 32 bits): whenever the host looks, pixel
                 (0, 0) holds the last completed pass. Between passes it looks
                 at LSR once (one exit): 'C' -> "passes N", 'S' -> "stopped N"
                 and back to the latency loop.
     anything else: "unknown command"

   Ring 3 never ends by itself (it cannot hlt): the host powers it off. */
#include "guest_display.h"
#include "guest_io.h"
#include "guest_pci.h"
#include "guest_user_mode.h"

#define BLOCK_X 256
#define BLOCK_Y 256
#define BLOCK_SIZE 64
#define PROBE_MAX 0x3f

/* What CPL 0 found, for ring 3 (the image is mapped user-accessible). */
static volatile uint32_t* framebuffer;
static uint32_t width, height, stride;

static uint8_t user_stack[16384] __attribute__((aligned(16)));

static uint32_t probe_color(uint8_t k) {
  return ((uint32_t)k << 16) | ((uint32_t)(255 - k) << 8) | ((uint32_t)(4 * k) & 0xff);
}

static void fill_block(uint32_t color) {
  const uint64_t pair = ((uint64_t)color << 32) | color;
  for (uint32_t y = 0; y < BLOCK_SIZE; ++y) {
    volatile uint64_t* row =
        (volatile uint64_t*)(framebuffer + (uint64_t)(BLOCK_Y + y) * stride + BLOCK_X);
    for (uint32_t x = 0; x < BLOCK_SIZE / 2; ++x) row[x] = pair;
  }
}

static void fill_words(volatile uint32_t* start, uint64_t qwords, uint64_t pair) {
  __asm__ volatile("rep stosq" : "+D"(start), "+c"(qwords) : "a"(pair) : "memory");
}

/* Pixels 0 and 1 are one qword written last: the pass count and the color.
   The fill never touches pixel 0, so whenever the host reads the frame,
   pixel 0 holds the number of the last completed pass. */
static void redraw_pass(uint64_t pass) {
  const uint32_t color = (uint32_t)(pass * 0x010307u) & 0xffffff;
  const uint64_t pair = ((uint64_t)color << 32) | color;
  if (stride == width && width % 2 == 0) {
    fill_words(framebuffer + 2, (uint64_t)width * height / 2 - 1, pair);
  } else {
    for (uint32_t y = 0; y < height; ++y) {
      volatile uint32_t* row = framebuffer + (uint64_t)y * stride;
      const uint32_t first = y == 0 ? 2 : 0;
      fill_words(row + first, (width - first) / 2, pair);
      if ((width - first) % 2 != 0) row[width - 1] = color;
    }
  }
  *(volatile uint64_t*)framebuffer = ((uint64_t)color << 32) | (uint32_t)pass;
  __asm__ volatile("" : : : "memory");
}

/* Redraws until 'S'; answers 'C' with the pass count meanwhile. */
static void redraw_loop(void) {
  serial_puts("fps\n");
  uint64_t pass = 0;
  for (;;) {
    redraw_pass(++pass);
    if ((inb(COM1 + UART_LSR) & UART_LSR_DR) == 0) continue;
    const uint8_t command = inb(COM1);
    if (command == 'C' || command == 'S') {
      serial_puts(command == 'C' ? "passes " : "stopped ");
      serial_put_dec(pass);
      serial_putc('\n');
      if (command == 'S') return;
    }
  }
}

static void user_main(void) {
  serial_puts("ring3 cpl=");
  serial_put_dec(user_mode_cpl());
  serial_putc('\n');
  for (;;) {
    const uint8_t byte = serial_getc();
    if (byte >= 1 && byte <= PROBE_MAX) {
      fill_block(probe_color(byte));
      __asm__ volatile("" : : : "memory");
      serial_putc((char)byte);
    } else if (byte == 'F') {
      redraw_loop();
    } else {
      serial_puts("unknown command\n");
    }
  }
}

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  struct pci_device pci;
  if (!pci_find(DISPLAY_PCI_VENDOR, DISPLAY_PCI_DEVICE, 0, &pci)) {
    serial_puts("bench-display: no display\n");
    return;
  }
  const uint16_t command = pci_config_read16(pci.slot, PCI_COMMAND);
  pci_config_write_command(pci.slot, command | PCI_COMMAND_MEMORY);
  const uint64_t fb = pci_bar_address(pci.slot, 0);
  const uint64_t mmio = pci_bar_address(pci.slot, 2);
  const struct dispi d = {(volatile uint16_t*)(uintptr_t)(mmio + DISPI_MMIO_OFFSET)};
  width = dispi_read(&d, DISPI_INDEX_XRES);
  height = dispi_read(&d, DISPI_INDEX_YRES);
  stride = dispi_read(&d, DISPI_INDEX_VIRT_WIDTH);
  const uint16_t bpp = dispi_read(&d, DISPI_INDEX_BPP);
  const uint16_t enable = dispi_read(&d, DISPI_INDEX_ENABLE);
  if (stride < width) stride = width;
  framebuffer = (volatile uint32_t*)(uintptr_t)fb;

  serial_puts("bench-display: fb=");
  serial_put_hex(fb);
  serial_putc(' ');
  serial_put_dec(width);
  serial_putc('x');
  serial_put_dec(height);
  serial_puts(" stride=");
  serial_put_dec(stride);
  serial_putc('\n');
  if (bpp != 32 || (enable & DISPI_ENABLED) == 0 || width < BLOCK_X + BLOCK_SIZE ||
      height < BLOCK_Y + BLOCK_SIZE) {
    serial_puts("bench-display: needs an enabled 32-bpp mode of at least 320x320\n");
    return;
  }
  if (!user_mode_map_image() || !user_mode_map(fb, (uint64_t)stride * height * 4)) {
    serial_puts("bench-display: cannot map for ring 3\n");
    return;
  }
  user_mode_enter(user_main, user_stack + sizeof user_stack);
}
