/* A guest whose whole visible state is one number, for snapshot.test.ts: it
   counts n = 1, 2, 3, ... for ever, and for each n, in this order,

     1. writes sector 0 of the first virtio-blk disk: n as a little-endian
        u64, then the text "NBCOUNT <n>\n", the rest of the sector zero; then
        flushes (a failed request prints "disk error <step> <status>");
     2. draws frame n on the display: pixel (x, y) of the visible mode is
        color(n) on the squares of a 16-pixel checkerboard where
        ((x >> 4) ^ (y >> 4)) + n is even, and ~color(n) (low 24 bits) on the
        others, color(n) = ((n * 2654435761) mod 2^32) >> 8, XRGB8888
        with X = 0 — a function of n only;
     3. prints "count <n>\n" on COM1;
     4. waits: spin=M (command line, default 300) rounds of 2^20 iterations
        of a two-instruction loop, looking at COM1's LSR between rounds; a
        received byte c is answered "got <c>\n". Natively (ring 3 on the CI
        machines' nested KVM, or any CPL on hardware) a round is about 0.8 ms
        on the CI CPU, so 300 rounds make about 3-4 counts a second.

   So while "count n" is the last line printed and the next has not begun,
   the disk holds n and the screen shows frame n: the wait, which is most of
   each step, is where a pause normally lands.

   Set-up runs at CPL 0 (emulated on the CI machines, so it is kept short):
   the display's BARs and current mode (the direct-boot mode, 32 bpp; when
   no 32-bpp mode is on, as under another VMM, it sets 640x480x32), the
   virtio-blk device and its queue (guest_virtio.h, polled, no interrupts),
   then "snapshot-counter: fb=0x... WxH stride=S disk=SECTORS spin=M", and
   the drop to ring 3 (guest_user_mode.h) with the image, the visible
   framebuffer and the queue's notify page mapped user-accessible. The loop
   runs in ring 3, natively. Without a display it counts without drawing
   ("snapshot-counter: no display"); without a disk it prints
   "snapshot-counter: no disk" and stops. Ring 3 never ends by itself. */
#include "guest_display.h"
#include "guest_io.h"
#include "guest_pci.h"
#include "guest_user_mode.h"
#include "guest_virtio.h"

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4

#define SECTOR 512
#define QUEUE_SIZE 8
#define NO_ANSWER 255
/* Polls of the used ring before a request counts as lost (native speed). */
#define REQUEST_SPINS 2000000000ull
#define SPIN_ROUND (1u << 20)
#ifndef DEFAULT_SPIN_ROUNDS
#define DEFAULT_SPIN_ROUNDS 300
#endif
/* The mode set when the display is not already in an enabled 32-bpp one. */
#define FALLBACK_WIDTH 640
#define FALLBACK_HEIGHT 480

struct blk_header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

static uint8_t queue_memory[3 * 4096] __attribute__((aligned(4096)));
static uint8_t sector_data[SECTOR] __attribute__((aligned(4096)));
static struct blk_header header __attribute__((aligned(16)));
static volatile uint8_t status_byte __attribute__((aligned(16)));
static uint8_t user_stack[16384] __attribute__((aligned(16)));

static struct virtio_device dev;
static struct virtq queue;

/* What CPL 0 found, for ring 3 (the whole image is user-accessible). */
static volatile uint32_t* framebuffer; /* 0: no display */
static uint32_t width, height, stride;
static uint32_t spin_rounds;

static uint64_t addr(const volatile void* p) { return (uint64_t)(uintptr_t)p; }

/* One request (header, optional data buffer, status); returns the status. */
static uint8_t request(uint32_t type, uint64_t sector, void* buffer, uint32_t length) {
  header.type = type;
  header.reserved = 0;
  header.sector = sector;
  status_byte = NO_ANSWER;
  uint64_t addrs[3];
  uint32_t lens[3];
  uint16_t flags[3];
  int n = 0;
  addrs[n] = addr(&header);
  lens[n] = sizeof header;
  flags[n++] = 0;
  if (length != 0) {
    addrs[n] = addr(buffer);
    lens[n] = length;
    flags[n++] = type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE;
  }
  addrs[n] = addr(&status_byte);
  lens[n] = 1;
  flags[n++] = VIRTQ_DESC_F_WRITE;
  const int head = virtq_add_chain(&queue, addrs, lens, flags, n);
  if (head < 0) return NO_ANSWER;
  virtq_kick(&queue);
  uint32_t used_length = 0;
  if (virtq_poll_used(&queue, &used_length, REQUEST_SPINS) != head) return NO_ANSWER;
  return status_byte;
}

static void report_disk_error(const char* step, uint8_t status) {
  serial_puts("disk error ");
  serial_puts(step);
  serial_putc(' ');
  serial_put_dec(status);
  serial_putc('\n');
}

/* Step 1: sector 0 = n (u64 LE), "NBCOUNT <n>\n", zeros; then a flush. */
static void write_count(uint64_t n) {
  for (uint32_t i = 0; i < SECTOR; ++i) sector_data[i] = 0;
  for (int i = 0; i < 8; ++i) sector_data[i] = (uint8_t)(n >> (8 * i));
  static const char label[] = "NBCOUNT ";
  uint32_t at = 8;
  for (uint32_t i = 0; label[i] != '\0'; ++i) sector_data[at++] = (uint8_t)label[i];
  char digits[21];
  int length = 0;
  uint64_t value = n;
  do {
    digits[length++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (length > 0) sector_data[at++] = (uint8_t)digits[--length];
  sector_data[at] = '\n';

  const uint8_t written = request(VIRTIO_BLK_T_OUT, 0, sector_data, SECTOR);
  if (written != 0) report_disk_error("write", written);
  if (dev.features & VIRTIO_BLK_F_FLUSH) {
    const uint8_t flushed = request(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
    if (flushed != 0) report_disk_error("flush", flushed);
  }
}

/* Step 2: frame n (see the top of the file). */
static void draw_frame(uint64_t n) {
  if (framebuffer == 0) return;
  const uint32_t color = ((uint32_t)n * 2654435761u) >> 8;
  const uint32_t inverse = ~color & 0xffffffu;
  const uint32_t phase = (uint32_t)n & 1u;
  for (uint32_t y = 0; y < height; ++y) {
    volatile uint32_t* row = framebuffer + (uint64_t)y * stride;
    for (uint32_t x = 0; x < width; ++x) {
      row[x] = ((((x >> 4) ^ (y >> 4)) + phase) & 1u) == 0 ? color : inverse;
    }
  }
  __asm__ volatile("" : : : "memory");
}

/* 2^20 iterations of dec/jnz, natively in ring 3. */
static void spin_round(void) {
  uint64_t left = SPIN_ROUND;
  __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(left) : : "cc");
}

/* Step 4: the wait, answering COM1 input between rounds. */
static void wait_a_little(void) {
  for (uint32_t round = 0; round < spin_rounds; ++round) {
    spin_round();
    if ((inb(COM1 + UART_LSR) & UART_LSR_DR) != 0) {
      const uint8_t byte = inb(COM1);
      serial_puts("got ");
      serial_putc((char)byte);
      serial_putc('\n');
    }
  }
}

static void user_main(void) {
  for (uint64_t n = 1;; ++n) {
    write_count(n);
    draw_frame(n);
    serial_puts("count ");
    serial_put_dec(n);
    serial_putc('\n');
    wait_a_little();
  }
}

/* The display's current mode, if it is a 32-bpp one; 0 without a usable display. */
static int find_display(void) {
  struct display_frame frame;
  if (!display_open_32bpp(FALLBACK_WIDTH, FALLBACK_HEIGHT, 0, &frame)) return 0;
  framebuffer = frame.pixels;
  width = frame.width;
  height = frame.height;
  stride = frame.stride;
  return 1;
}

void guest_main(const uint8_t* boot_params) {
  spin_rounds = command_line_number(boot_command_line(boot_params), "spin=", DEFAULT_SPIN_ROUNDS);
  const int display = find_display();

  if (!virtio_open(VIRTIO_ID_BLOCK, 0, VIRTIO_BLK_F_FLUSH, &dev) ||
      !virtq_setup(&dev, 0, QUEUE_SIZE, queue_memory, &queue)) {
    serial_puts("snapshot-counter: no disk\n");
    return;
  }
  virtio_driver_ok(&dev);
  const uint64_t capacity = dev.device_config == 0 ? 0
                                                   : (uint64_t)virtio_config_read32(&dev, 0) |
                                                         ((uint64_t)virtio_config_read32(&dev, 4)
                                                          << 32);

  if (display) {
    serial_puts("snapshot-counter: fb=");
    serial_put_hex(addr(framebuffer));
    serial_putc(' ');
    serial_put_dec(width);
    serial_putc('x');
    serial_put_dec(height);
    serial_puts(" stride=");
    serial_put_dec(stride);
  } else {
    serial_puts("snapshot-counter: no display");
  }
  serial_puts(" disk=");
  serial_put_dec(capacity);
  serial_puts(" spin=");
  serial_put_dec(spin_rounds);
  serial_putc('\n');

  if (!user_mode_map_image() ||
      (display && !user_mode_map(addr(framebuffer), (uint64_t)stride * height * 4)) ||
      !user_mode_map(addr(queue.notify), sizeof *queue.notify)) {
    serial_puts("snapshot-counter: cannot map for ring 3\n");
    return;
  }
  user_mode_enter(user_main, user_stack + sizeof user_stack);
}
