/* Reads the virtio-rng device (00:03.0) through guest_virtio.h, polling: two
   requests of 64 bytes each, printed in hex for virtio-devices.test.ts, which
   checks they are not all zero and differ:

     rng: read 1 len=64 status=0x.. bytes=<128 hex digits>
     rng: read 2 len=64 status=0x.. bytes=<128 hex digits>
     rng done            (or "rng failed") */
#include "guest_io.h"
#include "guest_virtio.h"

#define VIRTIO_ID_ENTROPY 4
#define QUEUE_SIZE 8
#define SPINS 10000000ull
#define LENGTH 64

static uint8_t queue_memory[2 * 4096] __attribute__((aligned(4096)));
static uint8_t buffers[2][LENGTH] __attribute__((aligned(64)));

static void put_byte_hex(uint8_t value) {
  static const char hex[] = "0123456789abcdef";
  serial_putc(hex[value >> 4]);
  serial_putc(hex[value & 0xf]);
}

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  struct virtio_device dev;
  struct virtq queue;
  if (!virtio_open(VIRTIO_ID_ENTROPY, 0, 0, &dev) ||
      !virtq_setup(&dev, 0, QUEUE_SIZE, queue_memory, &queue)) {
    serial_puts("rng failed\n");
    return;
  }
  virtio_driver_ok(&dev);
  int ok = 1;
  for (int round = 0; round < 2; ++round) {
    const uint64_t address = (uint64_t)(uintptr_t)buffers[round];
    const uint32_t length = LENGTH;
    const uint16_t flags = VIRTQ_DESC_F_WRITE;
    const int head = virtq_add_chain(&queue, &address, &length, &flags, 1);
    virtq_kick(&queue);
    /* The device may fill less than asked: ask again for the rest. */
    uint32_t filled = 0;
    int done = virtq_poll_used(&queue, &filled, SPINS);
    uint32_t total = filled;
    for (int more = 0; done == head && total < LENGTH && more < 16; ++more) {
      const uint64_t rest = address + total;
      const uint32_t rest_length = LENGTH - total;
      const int next = virtq_add_chain(&queue, &rest, &rest_length, &flags, 1);
      virtq_kick(&queue);
      done = virtq_poll_used(&queue, &filled, SPINS) == next ? head : -1;
      total += filled;
    }
    serial_puts("rng: read ");
    serial_put_dec((uint64_t)round + 1);
    serial_puts(" len=");
    serial_put_dec(total);
    serial_puts(" status=");
    serial_put_hex(virtio_status(&dev));
    serial_puts(" bytes=");
    for (int i = 0; i < LENGTH; ++i) put_byte_hex(buffers[round][i]);
    serial_putc('\n');
    if (done != head || total != LENGTH) ok = 0;
  }
  serial_puts(ok ? "rng done\n" : "rng failed\n");
}
