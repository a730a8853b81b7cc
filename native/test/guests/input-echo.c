/* Echoes keyboard and pointer input for input.test.ts. Sets up the i8042
   (keyboard interrupt off, translation to set 1 on, scanning on; it polls
   status bit 0 of port 0x64 instead of taking IRQ 1) and prints

     "i8042: cmd=XX ack=XX id=XXXX"     command byte, 0xF4's ACK, identify's reply
     "ps2 XX"                           for every byte read from port 0x60

   then obeys one-byte commands on COM1:

     's'  reads everything already waiting (i8042, virtio event queues), then
          "sync" (the test sends keys first, then 's': everything the keys
          produced is printed before "sync")
     'v'  drives the virtio keyboard (00:14.0) and tablet (00:15.0) with
          guest_virtio.h: event queue with 64 posted 8-byte buffers, status
          queue, DRIVER_OK; prints each one's name and ABS_X range, then
          "virtio ready" (or "virtio failed"); from then on every event as
          "vin K|T type code value" (decimal, value signed)
     'm'  sets 640x480x32 through the legacy DISPI ports -> "mode 640x480 ok"
     'q'  "bye", then halts.

   Per byte the loop does little: CPL-0 code is emulated on the CI machines. */
#include "guest_display.h"
#include "guest_io.h"
#include "guest_virtio.h"

#define KBC_DATA 0x60
#define KBC_STATUS 0x64
#define KBC_OUTPUT_FULL 0x01

#define VIRTIO_ID_INPUT 18
#define QUEUE_SIZE 64
#define EVENT_SIZE 8

/* virtio_input_config (virtio 1.2, 5.8.5). */
#define INPUT_CFG_SELECT 0
#define INPUT_CFG_SUBSEL 1
#define INPUT_CFG_SIZE 2
#define INPUT_CFG_UNION 8
#define INPUT_CFG_ID_NAME 0x01
#define INPUT_CFG_ABS_INFO 0x12

struct input_device {
  char tag;
  int up;
  struct virtio_device dev;
  struct virtq events;
  struct virtq status;
};

static uint8_t queue_memory[2][2][2 * 4096] __attribute__((aligned(4096)));
static uint8_t event_buffers[2][QUEUE_SIZE][EVENT_SIZE] __attribute__((aligned(4096)));
static struct input_device devices[2] = {{.tag = 'K'}, {.tag = 'T'}};

static void put_byte_hex(uint8_t value) {
  static const char hex[] = "0123456789abcdef";
  serial_putc(hex[value >> 4]);
  serial_putc(hex[value & 0xf]);
}

/* The next byte from the controller, or -1 after a bounded wait. */
static int kbc_read(void) {
  for (int spin = 0; spin < 100000; ++spin) {
    if (inb(KBC_STATUS) & KBC_OUTPUT_FULL) return inb(KBC_DATA);
  }
  return -1;
}

static void put_reply(int value) {
  if (value < 0) {
    serial_puts("--");
  } else {
    put_byte_hex((uint8_t)value);
  }
}

static void i8042_setup(void) {
  for (int i = 0; i < 32 && (inb(KBC_STATUS) & KBC_OUTPUT_FULL); ++i) inb(KBC_DATA);
  outb(KBC_STATUS, 0x20); /* read the command byte */
  const int command = kbc_read();
  /* Keyboard interrupt off (we poll), keyboard enabled, translation on. */
  const uint8_t wanted = (uint8_t)(((command < 0 ? 0 : command) & ~0x13) | 0x40);
  outb(KBC_STATUS, 0x60);
  outb(KBC_DATA, wanted);
  outb(KBC_STATUS, 0xae); /* enable the keyboard interface */
  outb(KBC_STATUS, 0x20);
  const int readback = kbc_read();
  outb(KBC_DATA, 0xf4); /* enable scanning */
  const int ack = kbc_read();
  outb(KBC_DATA, 0xf2); /* identify */
  const int id_ack = kbc_read();
  const int id1 = kbc_read();
  const int id2 = kbc_read();
  serial_puts("i8042: cmd=");
  put_reply(readback);
  serial_puts(" was=");
  put_reply(command);
  serial_puts(" ack=");
  put_reply(ack);
  serial_puts(" id=");
  put_reply(id_ack);
  put_reply(id1);
  put_reply(id2);
  serial_putc('\n');
}

static void config_select(struct input_device* in, uint8_t select, uint8_t subsel) {
  *(volatile uint8_t*)(in->dev.device_config + INPUT_CFG_SELECT) = select;
  *(volatile uint8_t*)(in->dev.device_config + INPUT_CFG_SUBSEL) = subsel;
}

static int input_open(struct input_device* in, int nth) {
  if (!virtio_open(VIRTIO_ID_INPUT, nth, 0, &in->dev) || in->dev.device_config == 0) return 0;
  if (!virtq_setup(&in->dev, 0, QUEUE_SIZE, queue_memory[nth][0], &in->events) ||
      !virtq_setup(&in->dev, 1, QUEUE_SIZE, queue_memory[nth][1], &in->status)) {
    return 0;
  }
  const uint16_t write_flag = VIRTQ_DESC_F_WRITE;
  const uint32_t length = EVENT_SIZE;
  for (uint16_t i = 0; i < in->events.size; ++i) {
    const uint64_t address = (uint64_t)(uintptr_t)event_buffers[nth][i];
    if (virtq_add_chain(&in->events, &address, &length, &write_flag, 1) < 0) return 0;
  }
  virtio_driver_ok(&in->dev);
  virtq_kick(&in->events);

  serial_puts("virtio ");
  serial_putc(in->tag);
  serial_puts(" slot=");
  put_byte_hex(in->dev.slot);
  serial_puts(" name=\"");
  config_select(in, INPUT_CFG_ID_NAME, 0);
  const uint8_t size = virtio_config_read8(&in->dev, INPUT_CFG_SIZE);
  for (uint8_t i = 0; i < size && i < 128; ++i) {
    serial_putc((char)virtio_config_read8(&in->dev, INPUT_CFG_UNION + i));
  }
  serial_puts("\" abs-x=");
  config_select(in, INPUT_CFG_ABS_INFO, 0);
  if (virtio_config_read8(&in->dev, INPUT_CFG_SIZE) >= 8) {
    serial_put_dec(virtio_config_read32(&in->dev, INPUT_CFG_UNION));
    serial_puts("..");
    serial_put_dec(virtio_config_read32(&in->dev, INPUT_CFG_UNION + 4));
  } else {
    serial_puts("none");
  }
  config_select(in, 0, 0);
  serial_puts(" queue=");
  serial_put_dec(in->events.size);
  serial_puts(" status=");
  put_byte_hex(virtio_status(&in->dev));
  serial_putc('\n');
  in->up = 1;
  return 1;
}

/* Prints one waiting event of `in` and gives its buffer back; 0 if none. */
static int input_poll(struct input_device* in) {
  uint32_t length = 0;
  const int head = virtq_poll_used(&in->events, &length, 0);
  if (head < 0) return 0;
  const uint64_t address = in->events.desc[head].addr;
  const volatile uint8_t* event = (const volatile uint8_t*)(uintptr_t)address;
  const uint16_t type = (uint16_t)(event[0] | (event[1] << 8));
  const uint16_t code = (uint16_t)(event[2] | (event[3] << 8));
  const int32_t value =
      (int32_t)((uint32_t)event[4] | ((uint32_t)event[5] << 8) | ((uint32_t)event[6] << 16) |
                ((uint32_t)event[7] << 24));
  serial_puts("vin ");
  serial_putc(in->tag);
  serial_putc(' ');
  serial_put_dec(type);
  serial_putc(' ');
  serial_put_dec(code);
  serial_putc(' ');
  if (value < 0) serial_putc('-');
  serial_put_dec(value < 0 ? (uint64_t)(-(int64_t)value) : (uint64_t)value);
  if (length != EVENT_SIZE) {
    serial_puts(" len=");
    serial_put_dec(length);
  }
  serial_putc('\n');
  const uint16_t write_flag = VIRTQ_DESC_F_WRITE;
  const uint32_t buffer_length = EVENT_SIZE;
  virtq_add_chain(&in->events, &address, &buffer_length, &write_flag, 1);
  virtq_kick(&in->events);
  return 1;
}

/* One byte from the keyboard controller, printed; 0 if none. */
static int ps2_poll(void) {
  if ((inb(KBC_STATUS) & KBC_OUTPUT_FULL) == 0) return 0;
  const uint8_t byte = inb(KBC_DATA);
  serial_puts("ps2 ");
  put_byte_hex(byte);
  serial_putc('\n');
  return 1;
}

static int poll_all(void) {
  int any = ps2_poll();
  for (int i = 0; i < 2; ++i) {
    if (devices[i].up) any |= input_poll(&devices[i]);
  }
  return any;
}

void guest_main(const uint8_t* boot_params) {
  (void)boot_params;
  i8042_setup();
  serial_puts("input-echo ready\n");
  for (;;) {
    if (poll_all()) continue;
    if ((inb(COM1 + UART_LSR) & UART_LSR_DR) == 0) continue;
    const uint8_t command = inb(COM1);
    if (command == 's') {
      for (int guard = 0; guard < 4096 && poll_all(); ++guard) {
      }
      serial_puts("sync\n");
    } else if (command == 'v') {
      const int ok = input_open(&devices[0], 0) && input_open(&devices[1], 1);
      serial_puts(ok ? "virtio ready\n" : "virtio failed\n");
    } else if (command == 'm') {
      const struct dispi legacy = {0};
      serial_puts(dispi_set_mode(&legacy, 640, 480, 32, 1) ? "mode 640x480 ok\n"
                                                           : "mode 640x480 failed\n");
    } else if (command == 'q') {
      serial_puts("bye\n");
      return;
    } else {
      serial_puts("unknown command\n");
    }
  }
}
