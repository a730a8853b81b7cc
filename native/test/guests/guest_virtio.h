/* A minimal modern virtio-pci driver for freestanding test guests (virtio
   1.2, 4.1): finds the device on bus 0, walks its vendor capabilities,
   negotiates features, sets up split virtqueues and polls their used rings.
   No interrupts: MSI-X vectors stay VIRTIO_MSI_NO_VECTOR. Guest-physical ==
   virtual (identity-mapped). Header-only, static inline; every wait is
   bounded. */
#ifndef NESTBOX_GUEST_VIRTIO_H
#define NESTBOX_GUEST_VIRTIO_H

#include <stdint.h>

#include "guest_io.h"
#include "guest_pci.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040

/* Device status (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_F_VERSION_1 (1ull << 32)

/* virtio_pci_cap cfg_type. */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

/* struct virtio_pci_common_cfg. */
#define VIRTIO_COMMON_DFSELECT 0x00
#define VIRTIO_COMMON_DF 0x04
#define VIRTIO_COMMON_GFSELECT 0x08
#define VIRTIO_COMMON_GF 0x0c
#define VIRTIO_COMMON_MSIX 0x10
#define VIRTIO_COMMON_NUMQ 0x12
#define VIRTIO_COMMON_STATUS 0x14
#define VIRTIO_COMMON_CFGGENERATION 0x15
#define VIRTIO_COMMON_Q_SELECT 0x16
#define VIRTIO_COMMON_Q_SIZE 0x18
#define VIRTIO_COMMON_Q_MSIX 0x1a
#define VIRTIO_COMMON_Q_ENABLE 0x1c
#define VIRTIO_COMMON_Q_NOFF 0x1e
#define VIRTIO_COMMON_Q_DESCLO 0x20
#define VIRTIO_COMMON_Q_DESCHI 0x24
#define VIRTIO_COMMON_Q_AVAILLO 0x28
#define VIRTIO_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_COMMON_Q_USEDLO 0x30
#define VIRTIO_COMMON_Q_USEDHI 0x34

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

struct virtq {
  uint16_t size;
  uint16_t index;
  struct virtq_desc* desc;
  volatile uint16_t* avail; /* flags, idx, ring[] */
  volatile uint8_t* used;   /* flags, idx, ring[] of {u32 id, u32 len} */
  uint16_t next_free;       /* head of the free descriptor list; == size when empty */
  uint16_t avail_idx;
  uint16_t last_used;
  volatile uint16_t* notify;
};

struct virtio_device {
  uint8_t slot;
  volatile uint8_t* common;
  volatile uint8_t* isr;
  volatile uint8_t* device_config;
  uint64_t notify_base;
  uint32_t notify_multiplier;
  uint64_t features;
};

static inline void virtio_barrier(void) { __asm__ volatile("" : : : "memory"); }

static inline uint8_t virtio_common_read8(struct virtio_device* dev, uint16_t offset) {
  return *(volatile uint8_t*)(dev->common + offset);
}
static inline uint16_t virtio_common_read16(struct virtio_device* dev, uint16_t offset) {
  return *(volatile uint16_t*)(dev->common + offset);
}
static inline uint32_t virtio_common_read32(struct virtio_device* dev, uint16_t offset) {
  return *(volatile uint32_t*)(dev->common + offset);
}
static inline void virtio_common_write8(struct virtio_device* dev, uint16_t offset, uint8_t value) {
  *(volatile uint8_t*)(dev->common + offset) = value;
}
static inline void virtio_common_write16(struct virtio_device* dev, uint16_t offset, uint16_t value) {
  *(volatile uint16_t*)(dev->common + offset) = value;
}
static inline void virtio_common_write32(struct virtio_device* dev, uint16_t offset, uint32_t value) {
  *(volatile uint32_t*)(dev->common + offset) = value;
}

static inline uint8_t virtio_config_read8(struct virtio_device* dev, uint32_t offset) {
  return *(volatile uint8_t*)(dev->device_config + offset);
}
static inline uint16_t virtio_config_read16(struct virtio_device* dev, uint32_t offset) {
  return *(volatile uint16_t*)(dev->device_config + offset);
}
static inline uint32_t virtio_config_read32(struct virtio_device* dev, uint32_t offset) {
  return *(volatile uint32_t*)(dev->device_config + offset);
}

static inline uint8_t virtio_status(struct virtio_device* dev) {
  return virtio_common_read8(dev, VIRTIO_COMMON_STATUS);
}

static inline void virtio_set_status(struct virtio_device* dev, uint8_t status) {
  virtio_common_write8(dev, VIRTIO_COMMON_STATUS, status);
}

static inline void virtio_report(const char* kind, uint16_t number, const char* what) {
  serial_puts("virtio: ");
  serial_puts(kind);
  serial_putc(' ');
  serial_put_dec(number);
  serial_puts(": ");
  serial_puts(what);
  serial_putc('\n');
}

static inline void virtio_fail(const char* what, uint16_t type) { virtio_report("type", type, what); }

/* Finds the nth virtio device of `type` (PCI device id 0x1040 + type), walks
   its vendor capabilities, resets it, sets ACKNOWLEDGE|DRIVER, offers wanted &
   device features | VERSION_1, sets FEATURES_OK and checks it stuck. Returns
   1 on success, 0 with a serial message otherwise. */
static inline int virtio_open(uint16_t type, int nth, uint64_t wanted_features,
                              struct virtio_device* dev) {
  struct pci_device pci;
  if (!pci_find(VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + type), nth, &pci)) {
    virtio_fail("no such PCI device", type);
    return 0;
  }
  dev->slot = pci.slot;
  dev->common = 0;
  dev->isr = 0;
  dev->device_config = 0;
  dev->notify_base = 0;
  dev->notify_multiplier = 0;
  dev->features = 0;

  /* Memory decoding and bus mastering (the VMM pre-assigned the BARs). */
  const uint16_t command = pci_config_read16(pci.slot, PCI_COMMAND);
  pci_config_write_command(pci.slot, command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

  for (uint8_t cap = pci_find_capability(pci.slot, PCI_CAP_ID_VNDR, 0); cap != 0;
       cap = pci_find_capability(pci.slot, PCI_CAP_ID_VNDR, cap)) {
    const uint32_t header = pci_config_read32(pci.slot, cap);
    const uint8_t cfg_type = (uint8_t)(header >> 24);
    const uint8_t bar = (uint8_t)pci_config_read32(pci.slot, (uint16_t)(cap + 4));
    const uint32_t offset = pci_config_read32(pci.slot, (uint16_t)(cap + 8));
    if (bar > 5) continue;
    if (cfg_type == VIRTIO_PCI_CAP_PCI_CFG) continue; /* its bar/offset are the driver's */
    const uint64_t address = pci_bar_address(pci.slot, bar) + offset;
    switch (cfg_type) {
      case VIRTIO_PCI_CAP_COMMON_CFG:
        if (dev->common == 0) dev->common = (volatile uint8_t*)(uintptr_t)address;
        break;
      case VIRTIO_PCI_CAP_NOTIFY_CFG:
        if (dev->notify_base == 0) {
          dev->notify_base = address;
          dev->notify_multiplier = pci_config_read32(pci.slot, (uint16_t)(cap + 16));
        }
        break;
      case VIRTIO_PCI_CAP_ISR_CFG:
        if (dev->isr == 0) dev->isr = (volatile uint8_t*)(uintptr_t)address;
        break;
      case VIRTIO_PCI_CAP_DEVICE_CFG:
        if (dev->device_config == 0) dev->device_config = (volatile uint8_t*)(uintptr_t)address;
        break;
      default: break;
    }
  }
  if (dev->common == 0 || dev->notify_base == 0 || dev->isr == 0) {
    virtio_fail("missing common/notify/ISR capability", type);
    return 0;
  }

  virtio_set_status(dev, 0);
  for (int spin = 0; virtio_status(dev) != 0; ++spin) {
    if (spin > 1000) {
      virtio_fail("reset did not complete", type);
      return 0;
    }
  }
  virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
  virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

  virtio_common_write32(dev, VIRTIO_COMMON_DFSELECT, 0);
  uint64_t offered = virtio_common_read32(dev, VIRTIO_COMMON_DF);
  virtio_common_write32(dev, VIRTIO_COMMON_DFSELECT, 1);
  offered |= (uint64_t)virtio_common_read32(dev, VIRTIO_COMMON_DF) << 32;
  if ((offered & VIRTIO_F_VERSION_1) == 0) {
    virtio_fail("device does not offer VERSION_1", type);
    virtio_set_status(dev, VIRTIO_STATUS_FAILED);
    return 0;
  }
  const uint64_t features = (wanted_features & offered) | VIRTIO_F_VERSION_1;
  virtio_common_write32(dev, VIRTIO_COMMON_GFSELECT, 0);
  virtio_common_write32(dev, VIRTIO_COMMON_GF, (uint32_t)features);
  virtio_common_write32(dev, VIRTIO_COMMON_GFSELECT, 1);
  virtio_common_write32(dev, VIRTIO_COMMON_GF, (uint32_t)(features >> 32));
  virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                             VIRTIO_STATUS_FEATURES_OK);
  if ((virtio_status(dev) & VIRTIO_STATUS_FEATURES_OK) == 0) {
    virtio_fail("FEATURES_OK did not stick", type);
    virtio_set_status(dev, VIRTIO_STATUS_FAILED);
    return 0;
  }
  dev->features = features;
  return 1;
}

/* Bytes of memory queue `size` needs: descriptor table and available ring,
   then the used ring on its own 4 KiB boundary. */
static inline uint64_t virtq_used_offset(uint16_t size) {
  return ((uint64_t)16 * size + 6 + 2 * (uint64_t)size + 4095) & ~4095ull;
}

static inline uint64_t virtq_memory_size(uint16_t size) {
  return virtq_used_offset(size) + ((6 + 8 * (uint64_t)size + 4095) & ~4095ull);
}

/* Sets up queue `index` with `size` entries (reduced to the device's maximum
   if larger) in `memory` (4 KiB aligned, zeroed, at least
   virtq_memory_size(size) bytes) and enables it. Returns 1, or 0 with a
   serial message. */
static inline int virtq_setup(struct virtio_device* dev, uint16_t index, uint16_t size,
                              void* memory, struct virtq* q) {
  virtio_common_write16(dev, VIRTIO_COMMON_Q_SELECT, index);
  const uint16_t max = virtio_common_read16(dev, VIRTIO_COMMON_Q_SIZE);
  if (max == 0) {
    virtio_report("queue", index, "not available");
    return 0;
  }
  if (size == 0 || size > max) size = max;
  const uint64_t base = (uint64_t)(uintptr_t)memory;
  q->size = size;
  q->index = index;
  q->desc = (struct virtq_desc*)memory;
  q->avail = (volatile uint16_t*)(uintptr_t)(base + 16 * (uint64_t)size);
  q->used = (volatile uint8_t*)(uintptr_t)(base + virtq_used_offset(size));
  for (uint16_t i = 0; i < size; ++i) {
    q->desc[i].next = (uint16_t)(i + 1); /* free list; `size` ends it */
    q->desc[i].flags = 0;
  }
  q->next_free = 0;
  q->avail_idx = 0;
  q->last_used = 0;
  q->avail[0] = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: we poll */
  q->avail[1] = 0;

  virtio_common_write16(dev, VIRTIO_COMMON_Q_SIZE, size);
  virtio_common_write32(dev, VIRTIO_COMMON_Q_DESCLO, (uint32_t)base);
  virtio_common_write32(dev, VIRTIO_COMMON_Q_DESCHI, (uint32_t)(base >> 32));
  const uint64_t avail = (uint64_t)(uintptr_t)q->avail;
  virtio_common_write32(dev, VIRTIO_COMMON_Q_AVAILLO, (uint32_t)avail);
  virtio_common_write32(dev, VIRTIO_COMMON_Q_AVAILHI, (uint32_t)(avail >> 32));
  const uint64_t used = (uint64_t)(uintptr_t)q->used;
  virtio_common_write32(dev, VIRTIO_COMMON_Q_USEDLO, (uint32_t)used);
  virtio_common_write32(dev, VIRTIO_COMMON_Q_USEDHI, (uint32_t)(used >> 32));
  const uint16_t notify_off = virtio_common_read16(dev, VIRTIO_COMMON_Q_NOFF);
  q->notify = (volatile uint16_t*)(uintptr_t)(dev->notify_base +
                                              (uint64_t)notify_off * dev->notify_multiplier);
  virtio_common_write16(dev, VIRTIO_COMMON_Q_ENABLE, 1);
  if (virtio_common_read16(dev, VIRTIO_COMMON_Q_ENABLE) != 1) {
    virtio_report("queue", index, "did not enable");
    return 0;
  }
  return 1;
}

static inline void virtio_driver_ok(struct virtio_device* dev) {
  virtio_set_status(dev, (uint8_t)(virtio_status(dev) | VIRTIO_STATUS_DRIVER_OK));
}

/* Puts a chain of n buffers on the available ring (flags[i]: WRITE for a
   device-writable buffer, or 0); returns its head, or -1 when the queue has
   too few free descriptors. Does not notify: call virtq_kick. */
static inline int virtq_add_chain(struct virtq* q, const uint64_t* addrs, const uint32_t* lens,
                                  const uint16_t* flags, int n) {
  if (n <= 0) return -1;
  /* Enough free descriptors? */
  uint16_t probe = q->next_free;
  for (int i = 0; i < n; ++i) {
    if (probe >= q->size) return -1;
    probe = q->desc[probe].next;
  }
  const uint16_t head = q->next_free;
  uint16_t current = head;
  for (int i = 0; i < n; ++i) {
    struct virtq_desc* d = &q->desc[current];
    d->addr = addrs[i];
    d->len = lens[i];
    d->flags = (uint16_t)((flags[i] & VIRTQ_DESC_F_WRITE) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
    if (i + 1 < n) {
      current = d->next; /* the free list's order is the chain's order */
    } else {
      q->next_free = d->next;
    }
  }
  q->avail[2 + (q->avail_idx % q->size)] = head;
  virtio_barrier(); /* descriptors and ring entry before the index (x86: stores stay ordered) */
  q->avail_idx = (uint16_t)(q->avail_idx + 1);
  q->avail[1] = q->avail_idx;
  virtio_barrier();
  return head;
}

/* Writes q->index to the queue's notify address. */
static inline void virtq_kick(struct virtq* q) {
  __asm__ volatile("mfence" : : : "memory");
  *q->notify = q->index;
}

/* Polls the used ring: returns the head of the next used chain (its length
   in *len), or -1 after `spins` polls. Frees the chain's descriptors. */
static inline int virtq_poll_used(struct virtq* q, uint32_t* len, uint64_t spins) {
  volatile uint16_t* used_idx = (volatile uint16_t*)(q->used + 2);
  for (uint64_t spin = 0; *used_idx == q->last_used; ++spin) {
    if (spin >= spins) return -1;
    __asm__ volatile("pause" : : : "memory");
  }
  virtio_barrier();
  volatile uint32_t* element = (volatile uint32_t*)(q->used + 4 + 8 * (q->last_used % q->size));
  const uint32_t id = element[0];
  if (len != 0) *len = element[1];
  q->last_used = (uint16_t)(q->last_used + 1);
  if (id >= q->size) return -1;
  /* Back onto the free list: find the tail, link it to the old head. */
  uint16_t tail = (uint16_t)id;
  for (uint16_t guard = 0; (q->desc[tail].flags & VIRTQ_DESC_F_NEXT) != 0 && guard < q->size;
       ++guard) {
    tail = q->desc[tail].next;
  }
  q->desc[tail].flags = 0;
  q->desc[tail].next = q->next_free;
  q->next_free = (uint16_t)id;
  return (int)id;
}

#endif
