/* Drives a virtio-blk disk through guest_virtio.h, polling, and reports each
   step on COM1 for virtio-devices.test.ts. The command line says what to do
   (decimal numbers; absent keys take the defaults):

     disk=N          which virtio-blk device (0 = the first, 00:04.0)   [0]
     read=S rcount=N read N sectors from S (one request, the data in two
                     descriptors when N > 1)                             [0, 1]
     write=S wcount=N write N sectors of the pattern at S, flush, read
                     them back and compare; wcount=0: no write           [0, 0]
     move=1          first move BAR 0 to 0xd0000000 (as an OS may), and
                     at the end check a notify written to the old address
                     no longer reaches the device                        [0]

   The pattern: byte i of sector s is (s * 13 + i * 7 + 0x5a) & 0xff.
   Output, one line each:
     blk: features=0x... capacity=N blk_size=N seg_max=N ro=0|1
     blk: id="..." status=S
     blk: read sector=S count=N status=S fnv1a=0x... head=<16 bytes hex>
     blk: before-write fnv1a=0x...               (only with wcount > 0)
     blk: write sector=S count=N status=S
     blk: flush status=S                         (when FLUSH was negotiated)
     blk: verify match|mismatch at=N             (rw disks)
     blk: after-write fnv1a=0x... unchanged=yes|no  (read-only disks)
     blk: beyond-end status=S
     blk: moved bar=0x... stale-notify=ignored|delivered control=ok|slow status=S  (move=1)
     blk ok | blk failed
   Status: 0 OK, 1 IOERR, 2 UNSUPP, 255 no answer (timeout). */
#include "guest_io.h"
#include "guest_virtio.h"

#define VIRTIO_ID_BLOCK 2

#define VIRTIO_BLK_F_SIZE_MAX (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX (1ull << 2)
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ull << 6)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define SECTOR 512
#define MAX_SECTORS 64 /* 32 KiB per request */
#define QUEUE_SIZE 16
#define SPINS 10000000ull
#define NO_ANSWER 255
#define MOVED_BAR 0xd0000000ull

struct blk_header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

static uint8_t queue_memory[3 * 4096] __attribute__((aligned(4096)));
static uint8_t data[MAX_SECTORS * SECTOR] __attribute__((aligned(4096)));
static uint8_t pattern[MAX_SECTORS * SECTOR] __attribute__((aligned(4096)));
static struct blk_header header __attribute__((aligned(16)));
static volatile uint8_t status_byte __attribute__((aligned(16)));
static char id[24] __attribute__((aligned(16)));

static struct virtio_device dev;
static struct virtq queue;

static uint64_t addr(const volatile void* p) { return (uint64_t)(uintptr_t)p; }

static uint32_t fnv1a(const uint8_t* p, uint64_t length) {
  uint32_t hash = 2166136261u;
  for (uint64_t i = 0; i < length; ++i) {
    hash ^= p[i];
    hash *= 16777619u;
  }
  return hash;
}

static void put_byte_hex(uint8_t value) {
  static const char hex[] = "0123456789abcdef";
  serial_putc(hex[value >> 4]);
  serial_putc(hex[value & 0xf]);
}

/* One request: header, up to two data buffers, status. Returns the status. */
static uint8_t request(uint32_t type, uint64_t sector, void* buffer, uint32_t length, int split) {
  header.type = type;
  header.reserved = 0;
  header.sector = sector;
  status_byte = NO_ANSWER;
  const uint16_t data_flags = type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE;
  uint64_t addrs[4];
  uint32_t lens[4];
  uint16_t flags[4];
  int n = 0;
  addrs[n] = addr(&header);
  lens[n] = sizeof header;
  flags[n++] = 0;
  if (length != 0) {
    if (split && length >= 2 * SECTOR) {
      const uint32_t first = (length / 2) & ~(uint32_t)(SECTOR - 1);
      addrs[n] = addr(buffer);
      lens[n] = first;
      flags[n++] = data_flags;
      addrs[n] = addr(buffer) + first;
      lens[n] = length - first;
      flags[n++] = data_flags;
    } else {
      addrs[n] = addr(buffer);
      lens[n] = length;
      flags[n++] = data_flags;
    }
  }
  addrs[n] = addr(&status_byte);
  lens[n] = 1;
  flags[n++] = VIRTQ_DESC_F_WRITE;
  const int head = virtq_add_chain(&queue, addrs, lens, flags, n);
  if (head < 0) return NO_ANSWER;
  virtq_kick(&queue);
  uint32_t used_length = 0;
  const int done = virtq_poll_used(&queue, &used_length, SPINS);
  if (done != head) {
    serial_puts("blk: no answer (used head ");
    serial_put_dec((uint64_t)(done < 0 ? 0 : done));
    serial_puts(done < 0 ? ", timed out" : "");
    serial_puts(") device status=");
    serial_put_hex(virtio_status(&dev));
    serial_putc('\n');
    return NO_ANSWER;
  }
  return status_byte;
}

static uint8_t pattern_byte(uint64_t sector, uint32_t i) {
  return (uint8_t)(sector * 13 + i * 7 + 0x5a);
}

void guest_main(const uint8_t* boot_params) {
  const char* line = boot_command_line(boot_params);
  const uint32_t nth = command_line_number(line, "disk=", 0);
  const uint64_t read_sector = command_line_number(line, "read=", 0);
  uint32_t read_count = command_line_number(line, "rcount=", 1);
  const uint64_t write_sector = command_line_number(line, "write=", 0);
  uint32_t write_count = command_line_number(line, "wcount=", 0);
  if (read_count == 0 || read_count > MAX_SECTORS) read_count = 1;
  if (write_count > MAX_SECTORS) write_count = MAX_SECTORS;
  const uint32_t move = command_line_number(line, "move=", 0);
  int ok = 1;

  uint64_t old_bar = 0;
  if (move) {
    struct pci_device pci;
    if (!pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + VIRTIO_ID_BLOCK, (int)nth, &pci)) {
      serial_puts("blk failed\n");
      return;
    }
    old_bar = pci_bar_address(pci.slot, 0);
    const uint16_t command = pci_config_read16(pci.slot, PCI_COMMAND);
    const uint32_t low = pci_config_read32(pci.slot, PCI_BAR0);
    pci_config_write_command(pci.slot, command & (uint16_t)~PCI_COMMAND_MEMORY);
    pci_config_write32(pci.slot, PCI_BAR0, (uint32_t)MOVED_BAR | (low & 0xf));
    pci_config_write32(pci.slot, PCI_BAR0 + 4, (uint32_t)(MOVED_BAR >> 32));
    pci_config_write_command(pci.slot, command);
  }

  if (!virtio_open(VIRTIO_ID_BLOCK, (int)nth,
                   VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_RO |
                       VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH,
                   &dev) ||
      !virtq_setup(&dev, 0, QUEUE_SIZE, queue_memory, &queue)) {
    serial_puts("blk failed\n");
    return;
  }
  virtio_driver_ok(&dev);
  const int read_only = (dev.features & VIRTIO_BLK_F_RO) != 0;
  const uint64_t capacity =
      dev.device_config == 0
          ? 0
          : (uint64_t)virtio_config_read32(&dev, 0) | ((uint64_t)virtio_config_read32(&dev, 4) << 32);
  serial_puts("blk: features=");
  serial_put_hex(dev.features);
  serial_puts(" capacity=");
  serial_put_dec(capacity);
  serial_puts(" blk_size=");
  serial_put_dec((dev.features & VIRTIO_BLK_F_BLK_SIZE) ? virtio_config_read32(&dev, 20) : 0);
  serial_puts(" seg_max=");
  serial_put_dec((dev.features & VIRTIO_BLK_F_SEG_MAX) ? virtio_config_read32(&dev, 12) : 0);
  serial_puts(" ro=");
  serial_put_dec((uint64_t)read_only);
  serial_puts(" status=");
  serial_put_hex(virtio_status(&dev));
  serial_putc('\n');

  /* GET_ID: up to 20 bytes, NUL-padded when shorter. */
  const uint8_t id_status = request(VIRTIO_BLK_T_GET_ID, 0, id, 20, 0);
  serial_puts("blk: id=\"");
  for (int i = 0; i < 20 && id[i] != '\0'; ++i) serial_putc(id[i]);
  serial_puts("\" status=");
  serial_put_dec(id_status);
  serial_putc('\n');
  if (id_status != 0) ok = 0;

  const uint8_t read_status = request(VIRTIO_BLK_T_IN, read_sector, data, read_count * SECTOR, 1);
  serial_puts("blk: read sector=");
  serial_put_dec(read_sector);
  serial_puts(" count=");
  serial_put_dec(read_count);
  serial_puts(" status=");
  serial_put_dec(read_status);
  serial_puts(" fnv1a=");
  serial_put_hex(fnv1a(data, read_count * SECTOR));
  serial_puts(" head=");
  for (int i = 0; i < 16; ++i) put_byte_hex(data[i]);
  serial_putc('\n');
  if (read_status != 0) ok = 0;

  if (write_count > 0) {
    const uint32_t length = write_count * SECTOR;
    const uint8_t before_status = request(VIRTIO_BLK_T_IN, write_sector, data, length, 0);
    const uint32_t before = fnv1a(data, length);
    serial_puts("blk: before-write fnv1a=");
    serial_put_hex(before);
    serial_puts(" status=");
    serial_put_dec(before_status);
    serial_putc('\n');

    for (uint32_t s = 0; s < write_count; ++s) {
      for (uint32_t i = 0; i < SECTOR; ++i) pattern[s * SECTOR + i] = pattern_byte(write_sector + s, i);
    }
    const uint8_t write_status = request(VIRTIO_BLK_T_OUT, write_sector, pattern, length, 1);
    serial_puts("blk: write sector=");
    serial_put_dec(write_sector);
    serial_puts(" count=");
    serial_put_dec(write_count);
    serial_puts(" status=");
    serial_put_dec(write_status);
    serial_putc('\n');

    if (dev.features & VIRTIO_BLK_F_FLUSH) {
      const uint8_t flush_status = request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
      serial_puts("blk: flush status=");
      serial_put_dec(flush_status);
      serial_putc('\n');
      if (flush_status != 0 && !read_only) ok = 0;
    }

    for (uint32_t i = 0; i < length; ++i) data[i] = 0;
    const uint8_t back_status = request(VIRTIO_BLK_T_IN, write_sector, data, length, 0);
    if (read_only) {
      const uint32_t after = fnv1a(data, length);
      serial_puts("blk: after-write fnv1a=");
      serial_put_hex(after);
      serial_puts(" unchanged=");
      serial_puts(after == before ? "yes" : "no");
      serial_putc('\n');
      if (write_status == 0 || write_status == NO_ANSWER || after != before || back_status != 0) {
        ok = 0;
      }
    } else {
      uint32_t at = 0;
      while (at < length && data[at] == pattern[at]) ++at;
      serial_puts("blk: verify ");
      serial_puts(at == length ? "match" : "mismatch");
      serial_puts(" at=");
      serial_put_dec(at);
      serial_putc('\n');
      if (write_status != 0 || back_status != 0 || at != length) ok = 0;
    }
  }

  /* A request past the end of the disk fails with IOERR and the device stays usable. */
  const uint8_t beyond_status = request(VIRTIO_BLK_T_IN, capacity, data, SECTOR, 0);
  serial_puts("blk: beyond-end status=");
  serial_put_dec(beyond_status);
  serial_putc('\n');
  if (beyond_status != 1) ok = 0;
  if (move) {
    /* A request made available but notified only at the old BAR address:
       the device must not see it (no stale ioeventfd there). Then the real
       notify completes it. */
    const uint64_t new_bar = pci_bar_address(dev.slot, 0);
    volatile uint16_t* stale =
        (volatile uint16_t*)(uintptr_t)(old_bar + ((uint64_t)(uintptr_t)queue.notify - new_bar));
    header.type = VIRTIO_BLK_T_IN;
    header.reserved = 0;
    header.sector = 0;
    status_byte = NO_ANSWER;
    const uint64_t addrs[3] = {addr(&header), addr(data), addr(&status_byte)};
    const uint32_t lens[3] = {sizeof header, SECTOR, 1};
    const uint16_t flags[3] = {0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE};
    const int head = virtq_add_chain(&queue, addrs, lens, flags, 3);
    __asm__ volatile("mfence" : : : "memory");
    *stale = queue.index;
    uint32_t used_length = 0;
    int done = virtq_poll_used(&queue, &used_length, 200000);
    const int delivered = done >= 0;
    /* Control: the real notify completes within the same window, so the
       window was long enough to see a stale delivery. */
    int control = 0;
    if (!delivered) {
      virtq_kick(&queue);
      done = virtq_poll_used(&queue, &used_length, 200000);
      control = done >= 0;
      if (!control) done = virtq_poll_used(&queue, &used_length, SPINS);
    }
    serial_puts("blk: moved bar=");
    serial_put_hex(new_bar);
    serial_puts(" stale-notify=");
    serial_puts(delivered ? "delivered" : "ignored");
    serial_puts(" control=");
    serial_puts(control ? "ok" : "slow");
    serial_puts(" status=");
    serial_put_dec(done == head ? status_byte : NO_ANSWER);
    serial_putc('\n');
    if (new_bar != MOVED_BAR || delivered || done != head || status_byte != 0) ok = 0;
  }
  if (virtio_status(&dev) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)) {
    serial_puts("blk: device status=");
    serial_put_hex(virtio_status(&dev));
    serial_putc('\n');
    ok = 0;
  }

  serial_puts(ok ? "blk ok\n" : "blk failed\n");
}
