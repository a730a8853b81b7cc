/* A tiny polled network stack for freestanding test guests, on one modern
   virtio-net device (guest_virtio.h): Ethernet, ARP, IPv4, UDP, a DHCP client
   and a one-connection TCP client. Enough to talk to libslirp, no more: one
   frame in flight on transmit, stop-and-wait TCP, no fragments, no options
   but MSS. Receive buffers may be few and (with MRG_RXBUF) small: a frame
   spread over several buffers is gathered. Every wait is bounded in real
   time (the TSC, calibrated against the PIT) and a failing step prints
   "net error: <step>: <why>" on COM1.
   Anything the device or network does that breaks a MUST of the specs is
   printed as "net warning: ..." so a test can catch it.

   CPL-0 code is emulated instruction by instruction on the CI machines: the
   loops here touch at most one frame's bytes. No libc: byte loops go through
   volatile pointers so gcc does not turn them into memset/memcpy calls. */
#ifndef NESTBOX_GUEST_NET_H
#define NESTBOX_GUEST_NET_H

#include <stdint.h>

#include "guest_io.h"
#include "guest_virtio.h"

/* ---------------------------------------------------------------- time */

#define PIT_HZ_FOR_NET 1193182u
#define NET_CALIBRATION_MS 10u
#define NET_FALLBACK_TSC_PER_MS 2000000ull /* 2 GHz, if the PIT never answers */

static uint64_t net_tsc_per_ms = NET_FALLBACK_TSC_PER_MS;

static inline uint64_t net_rdtsc(void) {
  uint32_t low, high;
  __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
  return ((uint64_t)high << 32) | low;
}

/* One measurement of the TSC against PIT channel 2 in mode 0 (the way Linux's
   pit_calibrate_tsc does): gate on, count NET_CALIBRATION_MS, wait for OUT2
   (port 0x61 bit 5). 0 when OUT2 never rose. */
static inline uint64_t net_measure_tsc_per_ms(void) {
  const uint16_t count = (uint16_t)(PIT_HZ_FOR_NET / 1000u * NET_CALIBRATION_MS);
  outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate 2 on, speaker off */
  outb(0x43, 0xb0);                                  /* channel 2, lo/hi byte, mode 0 */
  outb(0x42, (uint8_t)count);
  outb(0x42, (uint8_t)(count >> 8));
  const uint64_t start = net_rdtsc();
  for (uint32_t spins = 0; (inb(0x61) & 0x20) == 0; ++spins) {
    if (spins >= 100000) return 0;
  }
  return (net_rdtsc() - start) / NET_CALIBRATION_MS;
}

/* The TSC rate for every timeout here: the least of five measurements (a
   preempted vCPU only ever makes one longer). Returns 0, keeping a 2 GHz
   guess, when the PIT does not count. */
static inline int net_time_init(void) {
  uint64_t best = 0;
  for (int i = 0; i < 5; ++i) {
    const uint64_t rate = net_measure_tsc_per_ms();
    if (rate < 1000) break; /* the PIT does not count: do not wait for it again */
    if (best == 0 || rate < best) best = rate;
  }
  net_tsc_per_ms = best != 0 ? best : NET_FALLBACK_TSC_PER_MS;
  return best != 0;
}

static inline uint64_t net_deadline(uint32_t milliseconds) {
  return net_rdtsc() + (uint64_t)milliseconds * net_tsc_per_ms;
}

static inline int net_expired(uint64_t deadline) { return (int64_t)(net_rdtsc() - deadline) >= 0; }

/* ------------------------------------------------------------- helpers */

static inline void net_zero(void* to, uint32_t length) {
  volatile uint8_t* p = (volatile uint8_t*)to;
  for (uint32_t i = 0; i < length; ++i) p[i] = 0;
}

static inline void net_copy(void* to, const void* from, uint32_t length) {
  volatile uint8_t* d = (volatile uint8_t*)to;
  const volatile uint8_t* s = (const volatile uint8_t*)from;
  for (uint32_t i = 0; i < length; ++i) d[i] = s[i];
}

static inline int net_equal(const uint8_t* a, const uint8_t* b, uint32_t length) {
  for (uint32_t i = 0; i < length; ++i) {
    if (a[i] != b[i]) return 0;
  }
  return 1;
}

/* Network byte order in and out of packet bytes. */
static inline uint16_t net_get16(const uint8_t* p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t net_get32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void net_put16(uint8_t* p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void net_put32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071): add 16-bit words, fold, complement. */
static inline uint32_t net_sum(uint32_t sum, const uint8_t* data, uint32_t length) {
  uint32_t i = 0;
  for (; i + 1 < length; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (i < length) sum += (uint32_t)data[i] << 8;
  return sum;
}

static inline uint16_t net_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* The TCP/UDP pseudo-header's part of the sum. */
static inline uint32_t net_pseudo_sum(uint32_t src, uint32_t dst, uint8_t protocol, uint32_t length) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + protocol + length;
}

static inline void net_put_ip(uint32_t ip) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    serial_put_dec((ip >> shift) & 0xff);
    if (shift) serial_putc('.');
  }
}

static inline void net_put_mac(const uint8_t* mac) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 6; ++i) {
    if (i) serial_putc(':');
    serial_putc(digits[mac[i] >> 4]);
    serial_putc(digits[mac[i] & 0xf]);
  }
}

static inline int net_error(const char* step, const char* why) {
  serial_puts("net error: ");
  serial_puts(step);
  serial_puts(": ");
  serial_puts(why);
  serial_putc('\n');
  return 0;
}

static inline void net_warning(const char* what, uint64_t value) {
  serial_puts("net warning: ");
  serial_puts(what);
  serial_putc(' ');
  serial_put_dec(value);
  serial_putc('\n');
}

#define NET_IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* ------------------------------------------------------- virtio-net device */

#define VIRTIO_NET_TYPE 1 /* PCI device 0x1041 */
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_CONFIG_STATUS 6
#define VIRTIO_NET_S_LINK_UP 1
/* struct virtio_net_hdr: under VERSION_1 always 12 bytes, num_buffers last
   (virtio 1.x 5.1.6); the device MUST set num_buffers to 1 without MRG_RXBUF. */
#define VIRTIO_NET_HDR_SIZE 12
#define VIRTIO_NET_HDR_NUM_BUFFERS 10

#define NET_RX_QUEUE 0
#define NET_TX_QUEUE 1
#define NET_QUEUE_SIZE 16
#define NET_QUEUE_MEMORY 16384
#define NET_BUFFER_SIZE 2048 /* >= 12 + 1514: every frame fits one buffer */
#define NET_MAX_FRAME 1514

#define ETH_HEADER 14
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define IP_HEADER 20
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
#define UDP_HEADER 8
/* Where an outgoing packet's layers start in the transmit buffer. */
#define NET_TX_ETH VIRTIO_NET_HDR_SIZE
#define NET_TX_IP (NET_TX_ETH + ETH_HEADER)
#define NET_TX_L4 (NET_TX_IP + IP_HEADER)

static uint8_t net_rx_queue_memory[NET_QUEUE_MEMORY] __attribute__((aligned(4096)));
static uint8_t net_tx_queue_memory[NET_QUEUE_MEMORY] __attribute__((aligned(4096)));
static uint8_t net_rx_buffers[NET_QUEUE_SIZE][NET_BUFFER_SIZE] __attribute__((aligned(4096)));
static uint8_t net_tx_buffer[NET_BUFFER_SIZE] __attribute__((aligned(4096)));
static uint8_t net_rx_merged[NET_BUFFER_SIZE]; /* a frame gathered from several buffers */

static const uint8_t net_broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct net_if {
  /* Options, set before net_open (0: the default). Fewer or smaller receive
     buffers make the device hold frames back until buffers come back, or
     (with MRG_RXBUF) spread one frame over several buffers. */
  int rx_buffers;           /* how many to post: 1..NET_QUEUE_SIZE (default all) */
  uint32_t rx_buffer_size;  /* bytes each: 64..NET_BUFFER_SIZE (default NET_BUFFER_SIZE) */
  struct virtio_device dev;
  struct virtq rx, tx;
  uint8_t mac[6];
  uint16_t link_status;
  int mergeable;           /* MRG_RXBUF negotiated */
  int rx_held;             /* rx buffer the caller is reading, given back on the next receive */
  uint8_t rx_buffer_of_head[NET_QUEUE_SIZE];
  uint16_t ip_id;
  /* From DHCP (host byte order; 0 until leased). */
  uint32_t ip, netmask, router, dns, lease_seconds;
  /* The gateway's MAC, once ARP resolved it. */
  uint8_t router_mac[6];
  int router_mac_known;
  uint32_t rx_frames, rx_merged_frames; /* frames received; of those, spread over several buffers */
  uint32_t warnings;
};

/* An IPv4 packet handed to the caller by net_receive_ip. */
struct net_packet {
  const uint8_t* src_mac;
  uint32_t src, dst;
  uint8_t protocol;
  const uint8_t* payload;
  uint32_t length;
};

static inline int net_post_rx(struct net_if* nif, int buffer) {
  const uint64_t address = (uint64_t)(uintptr_t)net_rx_buffers[buffer];
  const uint32_t length = nif->rx_buffer_size;
  const uint16_t flags = VIRTQ_DESC_F_WRITE;
  const int head = virtq_add_chain(&nif->rx, &address, &length, &flags, 1);
  if (head < 0 || head >= NET_QUEUE_SIZE) return 0;
  nif->rx_buffer_of_head[head] = (uint8_t)buffer;
  return 1;
}

/* Opens the first virtio-net device: features MAC and STATUS (and MRG_RXBUF
   when `mergeable`), both queues, DRIVER_OK, the receive buffers posted. */
static inline int net_open(struct net_if* nif, int mergeable) {
  if (nif->rx_buffers <= 0 || nif->rx_buffers > NET_QUEUE_SIZE) nif->rx_buffers = NET_QUEUE_SIZE;
  if (nif->rx_buffer_size < 64 || nif->rx_buffer_size > NET_BUFFER_SIZE) nif->rx_buffer_size = NET_BUFFER_SIZE;
  if (!mergeable && nif->rx_buffer_size < VIRTIO_NET_HDR_SIZE + NET_MAX_FRAME)
    return net_error("open", "receive buffers too small for a frame without MRG_RXBUF");
  const uint64_t wanted = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
                          (mergeable ? 1ull << VIRTIO_NET_F_MRG_RXBUF : 0);
  if (!virtio_open(VIRTIO_NET_TYPE, 0, wanted, &nif->dev)) return net_error("open", "virtio_open failed");
  const uint64_t features = nif->dev.features;
  if (!(features & VIRTIO_F_VERSION_1)) return net_error("open", "no VERSION_1");
  if (!(features & (1ull << VIRTIO_NET_F_MAC))) return net_error("open", "no VIRTIO_NET_F_MAC");
  nif->mergeable = (features >> VIRTIO_NET_F_MRG_RXBUF) & 1;
  if (nif->mergeable != (mergeable != 0)) return net_error("open", "MRG_RXBUF not as asked");
  for (int i = 0; i < 6; ++i) nif->mac[i] = virtio_config_read8(&nif->dev, VIRTIO_NET_CONFIG_MAC + i);
  nif->link_status = (features & (1ull << VIRTIO_NET_F_STATUS))
                         ? virtio_config_read16(&nif->dev, VIRTIO_NET_CONFIG_STATUS)
                         : VIRTIO_NET_S_LINK_UP;
  if (virtq_memory_size(NET_QUEUE_SIZE) > NET_QUEUE_MEMORY) return net_error("open", "queue memory too small");
  if (!virtq_setup(&nif->dev, NET_RX_QUEUE, NET_QUEUE_SIZE, net_rx_queue_memory, &nif->rx))
    return net_error("open", "receiveq setup failed");
  if (!virtq_setup(&nif->dev, NET_TX_QUEUE, NET_QUEUE_SIZE, net_tx_queue_memory, &nif->tx))
    return net_error("open", "transmitq setup failed");
  virtio_driver_ok(&nif->dev);
  /* virtq_setup may have made the queues smaller (the device's maximum). */
  for (int i = 0; i < nif->rx_buffers && i < nif->rx.size; ++i) {
    if (!net_post_rx(nif, i)) return net_error("open", "posting receive buffers failed");
  }
  virtq_kick(&nif->rx);
  nif->rx_held = -1;
  nif->ip_id = 1;
  return 1;
}

/* Sends the frame of `length` bytes at net_tx_buffer + NET_TX_ETH (after a
   zeroed virtio_net_hdr) and waits for the device to be done with it. */
static inline int net_send_frame(struct net_if* nif, uint32_t length) {
  net_zero(net_tx_buffer, VIRTIO_NET_HDR_SIZE);
  const uint64_t address = (uint64_t)(uintptr_t)net_tx_buffer;
  const uint32_t total = VIRTIO_NET_HDR_SIZE + length;
  const uint16_t flags = 0;
  if (virtq_add_chain(&nif->tx, &address, &total, &flags, 1) < 0) return net_error("transmit", "no descriptor");
  virtq_kick(&nif->tx);
  const uint64_t deadline = net_deadline(2000);
  uint32_t used_length;
  while (virtq_poll_used(&nif->tx, &used_length, 64) < 0) {
    if (net_expired(deadline)) return net_error("transmit", "the device never used the frame");
  }
  return 1;
}

/* The next used receive buffer before `deadline`: its index (*length bytes
   used, header included), or -1. */
static inline int net_next_rx_buffer(struct net_if* nif, uint32_t* length, uint64_t deadline) {
  for (;;) {
    const int head = virtq_poll_used(&nif->rx, length, 64);
    if (head >= 0 && head < NET_QUEUE_SIZE) {
      const int buffer = nif->rx_buffer_of_head[head];
      if (*length <= nif->rx_buffer_size) return buffer;
      net_warning("rx used length larger than the buffer:", *length);
      ++nif->warnings;
      net_post_rx(nif, buffer);
      virtq_kick(&nif->rx);
    }
    if (net_expired(deadline)) return -1;
  }
}

/* The next received frame (Ethernet header first) before `deadline`, or 0.
   The frame stays valid until the next call. With MRG_RXBUF a frame spread
   over num_buffers buffers is gathered into net_rx_merged. */
static inline uint32_t net_receive_frame(struct net_if* nif, const uint8_t** frame, uint64_t deadline) {
  for (;;) {
    if (nif->rx_held >= 0) { /* the previous frame is done with: give its buffer back */
      net_post_rx(nif, nif->rx_held);
      virtq_kick(&nif->rx);
      nif->rx_held = -1;
    }
    uint32_t length;
    const int buffer = net_next_rx_buffer(nif, &length, deadline);
    if (buffer < 0) return 0;
    nif->rx_held = buffer;
    const uint8_t* bytes = net_rx_buffers[buffer];
    if (length < VIRTIO_NET_HDR_SIZE) {
      net_warning("rx used length shorter than the header:", length);
      ++nif->warnings;
      continue;
    }
    const uint16_t num_buffers =
        (uint16_t)(bytes[VIRTIO_NET_HDR_NUM_BUFFERS] | bytes[VIRTIO_NET_HDR_NUM_BUFFERS + 1] << 8);
    if (num_buffers == 0 || (!nif->mergeable && num_buffers != 1)) {
      net_warning("rx num_buffers is", num_buffers);
      ++nif->warnings;
      continue;
    }
    if (num_buffers == 1) {
      if (length < VIRTIO_NET_HDR_SIZE + ETH_HEADER) continue;
      ++nif->rx_frames;
      *frame = bytes + VIRTIO_NET_HDR_SIZE;
      return length - VIRTIO_NET_HDR_SIZE;
    }
    /* MRG_RXBUF: the rest follows in the next used buffers, in order. */
    uint32_t total = length - VIRTIO_NET_HDR_SIZE;
    net_copy(net_rx_merged, bytes + VIRTIO_NET_HDR_SIZE, total);
    int complete = 1;
    for (uint16_t i = 1; i < num_buffers; ++i) {
      net_post_rx(nif, nif->rx_held);
      nif->rx_held = net_next_rx_buffer(nif, &length, net_deadline(1000));
      if (nif->rx_held < 0 || total + length > NET_MAX_FRAME) {
        net_warning("rx merged frame incomplete or too long: buffer", i);
        ++nif->warnings;
        complete = 0;
        break;
      }
      net_copy(net_rx_merged + total, net_rx_buffers[nif->rx_held], length);
      total += length;
    }
    if (nif->rx_held >= 0) {
      net_post_rx(nif, nif->rx_held);
      nif->rx_held = -1;
    }
    virtq_kick(&nif->rx);
    if (!complete || total < ETH_HEADER) continue;
    ++nif->rx_frames;
    ++nif->rx_merged_frames;
    *frame = net_rx_merged;
    return total;
  }
}

static inline void net_put_eth(struct net_if* nif, const uint8_t* dst_mac, uint16_t type) {
  uint8_t* eth = net_tx_buffer + NET_TX_ETH;
  net_copy(eth, dst_mac, 6);
  net_copy(eth + 6, nif->mac, 6);
  net_put16(eth + 12, type);
}

/* ------------------------------------------------------------------- ARP */

#define ARP_REQUEST 1
#define ARP_REPLY 2
#define ARP_LENGTH 28

static inline int net_send_arp(struct net_if* nif, uint16_t operation, const uint8_t* target_mac,
                               uint32_t target_ip) {
  net_put_eth(nif, operation == ARP_REQUEST ? net_broadcast_mac : target_mac, ETH_TYPE_ARP);
  uint8_t* arp = net_tx_buffer + NET_TX_IP;
  net_put16(arp, 1);                /* Ethernet */
  net_put16(arp + 2, ETH_TYPE_IPV4);
  arp[4] = 6;
  arp[5] = 4;
  net_put16(arp + 6, operation);
  net_copy(arp + 8, nif->mac, 6);
  net_put32(arp + 14, nif->ip);
  if (operation == ARP_REQUEST) {
    net_zero(arp + 18, 6);
  } else {
    net_copy(arp + 18, target_mac, 6);
  }
  net_put32(arp + 24, target_ip);
  return net_send_frame(nif, ETH_HEADER + ARP_LENGTH);
}

/* Answers requests for our address; learns the gateway's MAC from anything it says. */
static inline void net_handle_arp(struct net_if* nif, const uint8_t* arp, uint32_t length) {
  if (length < ARP_LENGTH || net_get16(arp) != 1 || net_get16(arp + 2) != ETH_TYPE_IPV4 || arp[4] != 6 ||
      arp[5] != 4) {
    return;
  }
  const uint16_t operation = net_get16(arp + 6);
  const uint32_t sender_ip = net_get32(arp + 14);
  if (nif->router != 0 && sender_ip == nif->router) {
    net_copy(nif->router_mac, arp + 8, 6);
    nif->router_mac_known = 1;
  }
  if (operation == ARP_REQUEST && nif->ip != 0 && net_get32(arp + 24) == nif->ip) {
    uint8_t requester[6];
    net_copy(requester, arp + 8, 6);
    net_send_arp(nif, ARP_REPLY, requester, sender_ip);
  }
}

/* ------------------------------------------------------------------ IPv4 */

/* The next IPv4 packet for us before `deadline` (ARP handled on the way), or 0. */
static inline int net_receive_ip(struct net_if* nif, struct net_packet* packet, uint64_t deadline) {
  for (;;) {
    const uint8_t* frame;
    const uint32_t length = net_receive_frame(nif, &frame, deadline);
    if (length == 0) return 0;
    if (!net_equal(frame, nif->mac, 6) && !net_equal(frame, net_broadcast_mac, 6)) continue;
    const uint16_t type = net_get16(frame + 12);
    const uint8_t* ip = frame + ETH_HEADER;
    const uint32_t available = length - ETH_HEADER;
    if (type == ETH_TYPE_ARP) {
      net_handle_arp(nif, ip, available);
      continue;
    }
    if (type != ETH_TYPE_IPV4 || available < IP_HEADER || (ip[0] >> 4) != 4) continue; /* e.g. IPv6 */
    const uint32_t header = (uint32_t)(ip[0] & 0xf) * 4;
    const uint32_t total = net_get16(ip + 2);
    if (header < IP_HEADER || total < header || total > available) {
      net_warning("bad IPv4 lengths, total", total);
      ++nif->warnings;
      continue;
    }
    if (net_fold(net_sum(0, ip, header)) != 0) {
      net_warning("bad IPv4 header checksum from protocol", ip[9]);
      ++nif->warnings;
      continue;
    }
    if ((net_get16(ip + 6) & 0x3fff) != 0) continue; /* a fragment: not handled */
    const uint32_t dst = net_get32(ip + 16);
    if (nif->ip != 0 && dst != nif->ip && dst != 0xffffffffu) continue;
    packet->src_mac = frame + 6;
    packet->src = net_get32(ip + 12);
    packet->dst = dst;
    packet->protocol = ip[9];
    packet->payload = ip + header;
    packet->length = total - header;
    return 1;
  }
}

/* Sends the `length` bytes already at net_tx_buffer + NET_TX_L4 as an IPv4 packet. */
static inline int net_send_ip(struct net_if* nif, const uint8_t* dst_mac, uint32_t dst, uint8_t protocol,
                              uint32_t length) {
  net_put_eth(nif, dst_mac, ETH_TYPE_IPV4);
  uint8_t* ip = net_tx_buffer + NET_TX_IP;
  ip[0] = 0x45;
  ip[1] = 0;
  net_put16(ip + 2, (uint16_t)(IP_HEADER + length));
  net_put16(ip + 4, nif->ip_id++);
  net_put16(ip + 6, 0x4000); /* don't fragment */
  ip[8] = 64;
  ip[9] = protocol;
  net_put16(ip + 10, 0);
  net_put32(ip + 12, nif->ip);
  net_put32(ip + 16, dst);
  net_put16(ip + 10, net_fold(net_sum(0, ip, IP_HEADER)));
  return net_send_frame(nif, ETH_HEADER + IP_HEADER + length);
}

/* Whose MAC a packet to `dst` goes to: the host's own on our subnet, else the gateway's. */
static inline int net_resolve(struct net_if* nif, uint32_t dst, uint8_t* mac) {
  const uint32_t next_hop = ((dst ^ nif->ip) & nif->netmask) == 0 ? dst : nif->router;
  if (next_hop == nif->router && nif->router_mac_known) {
    net_copy(mac, nif->router_mac, 6);
    return 1;
  }
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (!net_send_arp(nif, ARP_REQUEST, net_broadcast_mac, next_hop)) return 0;
    const uint64_t deadline = net_deadline(1000);
    for (;;) {
      const uint8_t* frame;
      const uint32_t length = net_receive_frame(nif, &frame, deadline);
      if (length == 0) break;
      if (net_get16(frame + 12) != ETH_TYPE_ARP || length < ETH_HEADER + ARP_LENGTH) continue;
      const uint8_t* arp = frame + ETH_HEADER;
      net_handle_arp(nif, arp, length - ETH_HEADER);
      if (net_get16(arp + 6) == ARP_REPLY && net_get32(arp + 14) == next_hop) {
        net_copy(mac, arp + 8, 6);
        return 1;
      }
    }
  }
  return net_error("arp", "no reply");
}

/* ------------------------------------------------------------------- UDP */

static inline int net_send_udp(struct net_if* nif, const uint8_t* dst_mac, uint32_t dst, uint16_t src_port,
                               uint16_t dst_port, uint32_t length) {
  uint8_t* udp = net_tx_buffer + NET_TX_L4;
  const uint32_t total = UDP_HEADER + length;
  net_put16(udp, src_port);
  net_put16(udp + 2, dst_port);
  net_put16(udp + 4, (uint16_t)total);
  net_put16(udp + 6, 0);
  uint16_t checksum = net_fold(net_sum(net_pseudo_sum(nif->ip, dst, IP_PROTO_UDP, total), udp, total));
  net_put16(udp + 6, checksum == 0 ? 0xffff : checksum);
  return net_send_ip(nif, dst_mac, dst, IP_PROTO_UDP, total);
}

/* ------------------------------------------------------------------ DHCP */

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAGIC 0x63825363u
#define DHCP_OPTIONS 240
#define DHCP_MESSAGE_LENGTH 300 /* BOOTP's minimum */
#define DHCP_DISCOVER 1
#define DHCP_OFFER 2
#define DHCP_REQUEST 3
#define DHCP_ACK 5
#define DHCP_NAK 6

struct dhcp_reply {
  uint8_t type;
  uint32_t your_ip, netmask, router, dns, server_id, lease_seconds;
};

static inline int dhcp_send(struct net_if* nif, uint8_t type, uint32_t xid, uint32_t requested_ip,
                            uint32_t server_id) {
  uint8_t* m = net_tx_buffer + NET_TX_L4 + UDP_HEADER;
  net_zero(m, DHCP_MESSAGE_LENGTH);
  m[0] = 1; /* BOOTREQUEST */
  m[1] = 1; /* Ethernet */
  m[2] = 6;
  net_put32(m + 4, xid);
  net_put16(m + 10, 0x8000); /* broadcast the reply: we have no address yet */
  net_copy(m + 28, nif->mac, 6);
  net_put32(m + 236, DHCP_MAGIC);
  uint8_t* o = m + DHCP_OPTIONS;
  o[0] = 53, o[1] = 1, o[2] = type; /* message type */
  o += 3;
  if (requested_ip != 0) {
    o[0] = 50, o[1] = 4;
    net_put32(o + 2, requested_ip);
    o += 6;
  }
  if (server_id != 0) {
    o[0] = 54, o[1] = 4;
    net_put32(o + 2, server_id);
    o += 6;
  }
  o[0] = 55, o[1] = 3, o[2] = 1, o[3] = 3, o[4] = 6; /* want: netmask, router, DNS */
  o[5] = 255;
  return net_send_udp(nif, net_broadcast_mac, 0xffffffffu, DHCP_CLIENT_PORT, DHCP_SERVER_PORT,
                      DHCP_MESSAGE_LENGTH);
}

/* Waits for the server's answer to transaction `xid` until `deadline`; 1 with it parsed, 0 on timeout. */
static inline int dhcp_receive(struct net_if* nif, uint32_t xid, struct dhcp_reply* reply, uint64_t deadline) {
  struct net_packet packet;
  while (net_receive_ip(nif, &packet, deadline)) {
    const uint8_t* udp = packet.payload;
    if (packet.protocol != IP_PROTO_UDP || packet.length < UDP_HEADER + DHCP_OPTIONS ||
        net_get16(udp) != DHCP_SERVER_PORT || net_get16(udp + 2) != DHCP_CLIENT_PORT) {
      continue;
    }
    const uint32_t length = net_get16(udp + 4);
    if (length > packet.length || length < UDP_HEADER + DHCP_OPTIONS) continue;
    if (net_get16(udp + 6) != 0 &&
        net_fold(net_sum(net_pseudo_sum(packet.src, packet.dst, IP_PROTO_UDP, length), udp, length)) != 0) {
      net_warning("bad UDP checksum on a DHCP reply of length", length);
      ++nif->warnings;
      continue;
    }
    const uint8_t* m = udp + UDP_HEADER;
    const uint8_t* end = udp + length;
    if (m[0] != 2 || net_get32(m + 4) != xid || net_get32(m + 236) != DHCP_MAGIC) continue;
    net_zero(reply, sizeof *reply);
    reply->your_ip = net_get32(m + 16);
    for (const uint8_t* o = m + DHCP_OPTIONS; o < end && *o != 255;) {
      if (*o == 0) {
        ++o;
        continue;
      }
      if (o + 2 > end || o + 2 + o[1] > end) break;
      const uint8_t code = o[0], size = o[1];
      const uint8_t* value = o + 2;
      if (code == 53 && size >= 1) reply->type = value[0];
      if (code == 1 && size >= 4) reply->netmask = net_get32(value);
      if (code == 3 && size >= 4) reply->router = net_get32(value);
      if (code == 6 && size >= 4) reply->dns = net_get32(value);
      if (code == 54 && size >= 4) reply->server_id = net_get32(value);
      if (code == 51 && size >= 4) reply->lease_seconds = net_get32(value);
      o += 2 + size;
    }
    if (reply->type != 0) return 1;
  }
  return 0;
}

/* DISCOVER → OFFER → REQUEST → ACK, each retried up to 3 times, 2 s apart. */
static inline int net_dhcp(struct net_if* nif) {
  const uint32_t xid = (uint32_t)net_rdtsc() ^ net_get32(nif->mac + 2);
  struct dhcp_reply offer, ack;
  int got = 0;
  for (int attempt = 0; attempt < 3 && !got; ++attempt) {
    if (!dhcp_send(nif, DHCP_DISCOVER, xid, 0, 0)) return 0;
    const uint64_t deadline = net_deadline(2000);
    while (!got && dhcp_receive(nif, xid, &offer, deadline)) got = offer.type == DHCP_OFFER;
  }
  if (!got) return net_error("dhcp", "no DHCPOFFER");
  if (offer.your_ip == 0) return net_error("dhcp", "DHCPOFFER without an address");
  got = 0;
  for (int attempt = 0; attempt < 3 && !got; ++attempt) {
    if (!dhcp_send(nif, DHCP_REQUEST, xid, offer.your_ip, offer.server_id)) return 0;
    const uint64_t deadline = net_deadline(2000);
    while (!got && dhcp_receive(nif, xid, &ack, deadline)) {
      if (ack.type == DHCP_NAK) return net_error("dhcp", "DHCPNAK");
      got = ack.type == DHCP_ACK;
    }
  }
  if (!got) return net_error("dhcp", "no DHCPACK");
  nif->ip = ack.your_ip != 0 ? ack.your_ip : offer.your_ip;
  nif->netmask = ack.netmask != 0 ? ack.netmask : NET_IP(255, 255, 255, 0);
  nif->router = ack.router;
  nif->dns = ack.dns;
  nif->lease_seconds = ack.lease_seconds;
  return 1;
}

/* ------------------------------------------------------------------- TCP */

#define TCP_HEADER 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_OUR_MSS 1460
#define TCP_WINDOW 4096
#define TCP_RECEIVE_BUFFER 4096
#define TCP_RETRANSMIT_MS 1000
#define TCP_TRIES 5

struct tcp_conn {
  uint32_t remote_ip;
  uint16_t local_port, remote_port;
  uint8_t remote_mac[6];
  uint32_t snd_una, snd_nxt, rcv_nxt;
  uint16_t mss;      /* the peer's, from its SYN-ACK (536 without the option) */
  int fin_received;  /* the peer's FIN is in (rcv_nxt counts it) */
  int reset;         /* the peer sent RST */
  uint8_t received[TCP_RECEIVE_BUFFER];
  uint32_t received_length;
};

struct tcp_segment {
  uint32_t seq, ack;
  uint8_t flags;
  uint16_t mss; /* 0 when absent */
  const uint8_t* data;
  uint32_t length;
};

static inline int tcp_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

static inline int tcp_send(struct net_if* nif, struct tcp_conn* c, uint8_t flags, uint32_t seq,
                           const uint8_t* data, uint32_t length) {
  uint8_t* tcp = net_tx_buffer + NET_TX_L4;
  const uint32_t header = (flags & TCP_SYN) ? TCP_HEADER + 4 : TCP_HEADER;
  net_put16(tcp, c->local_port);
  net_put16(tcp + 2, c->remote_port);
  net_put32(tcp + 4, seq);
  net_put32(tcp + 8, (flags & TCP_ACK) ? c->rcv_nxt : 0);
  tcp[12] = (uint8_t)((header / 4) << 4);
  tcp[13] = flags;
  net_put16(tcp + 14, TCP_WINDOW);
  net_put16(tcp + 16, 0);
  net_put16(tcp + 18, 0);
  if (flags & TCP_SYN) {
    tcp[20] = 2, tcp[21] = 4; /* MSS */
    net_put16(tcp + 22, TCP_OUR_MSS);
  }
  net_copy(tcp + header, data, length);
  const uint32_t total = header + length;
  net_put16(tcp + 16, net_fold(net_sum(net_pseudo_sum(nif->ip, c->remote_ip, IP_PROTO_TCP, total), tcp, total)));
  return net_send_ip(nif, c->remote_mac, c->remote_ip, IP_PROTO_TCP, total);
}

/* The next segment of this connection before `deadline`: 1, or 0 on timeout. */
static inline int tcp_receive(struct net_if* nif, struct tcp_conn* c, struct tcp_segment* s, uint64_t deadline) {
  struct net_packet packet;
  while (net_receive_ip(nif, &packet, deadline)) {
    const uint8_t* tcp = packet.payload;
    if (packet.protocol != IP_PROTO_TCP || packet.src != c->remote_ip || packet.length < TCP_HEADER ||
        net_get16(tcp) != c->remote_port || net_get16(tcp + 2) != c->local_port) {
      continue;
    }
    if (net_fold(net_sum(net_pseudo_sum(packet.src, packet.dst, IP_PROTO_TCP, packet.length), tcp,
                         packet.length)) != 0) {
      net_warning("bad TCP checksum on a segment of length", packet.length);
      ++nif->warnings;
      continue;
    }
    const uint32_t header = (uint32_t)(tcp[12] >> 4) * 4;
    if (header < TCP_HEADER || header > packet.length) continue;
    s->seq = net_get32(tcp + 4);
    s->ack = net_get32(tcp + 8);
    s->flags = tcp[13];
    s->mss = 0;
    for (uint32_t i = TCP_HEADER; i < header;) { /* options: only MSS matters */
      const uint8_t kind = tcp[i];
      if (kind == 0) break;
      if (kind == 1) {
        ++i;
        continue;
      }
      if (i + 1 >= header || tcp[i + 1] < 2 || i + tcp[i + 1] > header) break;
      if (kind == 2 && tcp[i + 1] == 4) s->mss = net_get16(tcp + i + 2);
      i += tcp[i + 1];
    }
    s->data = tcp + header;
    s->length = packet.length - header;
    return 1;
  }
  return 0;
}

/* What every segment after the handshake does to the connection: RST ends it,
   ACK advances snd_una, in-order data (and FIN) is taken and acknowledged. */
static inline void tcp_process(struct net_if* nif, struct tcp_conn* c, const struct tcp_segment* s) {
  if (s->flags & TCP_RST) {
    c->reset = 1;
    return;
  }
  if ((s->flags & TCP_ACK) && tcp_seq_lt(c->snd_una, s->ack) && !tcp_seq_lt(c->snd_nxt, s->ack)) {
    c->snd_una = s->ack;
  }
  if (s->length == 0 && !(s->flags & TCP_FIN)) return;
  /* Skip what we already have (a retransmission overlapping rcv_nxt). */
  const uint32_t already = c->rcv_nxt - s->seq;
  if (!tcp_seq_lt(c->rcv_nxt, s->seq) && already <= s->length) {
    uint32_t fresh = s->length - already;
    if (fresh > TCP_RECEIVE_BUFFER - c->received_length) fresh = TCP_RECEIVE_BUFFER - c->received_length;
    net_copy(c->received + c->received_length, s->data + already, fresh);
    c->received_length += fresh;
    c->rcv_nxt += fresh;
    if ((s->flags & TCP_FIN) && fresh == s->length - already && !c->fin_received) {
      c->fin_received = 1;
      c->rcv_nxt += 1;
    }
  }
  tcp_send(nif, c, TCP_ACK, c->snd_nxt, 0, 0); /* also a duplicate ACK for out-of-order data */
}

/* SYN (with our MSS) → SYN-ACK (taking the peer's MSS) → ACK; SYN resent every second. */
static inline int tcp_connect(struct net_if* nif, struct tcp_conn* c, uint32_t ip, uint16_t port) {
  net_zero(c, sizeof *c);
  c->remote_ip = ip;
  c->remote_port = port;
  const uint64_t now = net_rdtsc();
  c->local_port = (uint16_t)(49152 + (now >> 4) % 16000);
  const uint32_t iss = (uint32_t)(now >> 8);
  if (!net_resolve(nif, ip, c->remote_mac)) return 0;
  c->snd_una = iss;
  c->snd_nxt = iss + 1;
  for (int attempt = 0; attempt < TCP_TRIES; ++attempt) {
    if (!tcp_send(nif, c, TCP_SYN, iss, 0, 0)) return 0;
    const uint64_t deadline = net_deadline(TCP_RETRANSMIT_MS);
    struct tcp_segment s;
    while (tcp_receive(nif, c, &s, deadline)) {
      if ((s.flags & TCP_RST) && (s.flags & TCP_ACK) && s.ack == iss + 1)
        return net_error("tcp connect", "connection refused (RST)");
      if ((s.flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) || s.ack != iss + 1) continue;
      c->snd_una = s.ack;
      c->rcv_nxt = s.seq + 1;
      c->mss = s.mss != 0 ? s.mss : 536;
      return tcp_send(nif, c, TCP_ACK, c->snd_nxt, 0, 0);
    }
  }
  return net_error("tcp connect", "no SYN-ACK");
}

/* Sends `data` in MSS-sized segments (PSH on the last), stop and wait, each resent every second. */
static inline int tcp_write(struct net_if* nif, struct tcp_conn* c, const uint8_t* data, uint32_t length) {
  for (uint32_t offset = 0; offset < length;) {
    const uint32_t size = length - offset < c->mss ? length - offset : c->mss;
    const uint32_t seq = c->snd_nxt;
    c->snd_nxt += size;
    const uint8_t flags = TCP_ACK | (offset + size == length ? TCP_PSH : 0);
    int acked = 0;
    for (int attempt = 0; attempt < TCP_TRIES && !acked; ++attempt) {
      if (!tcp_send(nif, c, flags, seq, data + offset, size)) return 0;
      const uint64_t deadline = net_deadline(TCP_RETRANSMIT_MS);
      struct tcp_segment s;
      while (!acked && tcp_receive(nif, c, &s, deadline)) {
        tcp_process(nif, c, &s);
        if (c->reset) return net_error("tcp send", "connection reset");
        acked = c->snd_una == c->snd_nxt;
      }
    }
    if (!acked) return net_error("tcp send", "data never acknowledged");
    offset += size;
  }
  return 1;
}

/* Waits until the received bytes contain `terminator` or the peer closed. */
static inline int tcp_read_until(struct net_if* nif, struct tcp_conn* c, uint8_t terminator, uint32_t ms) {
  const uint64_t deadline = net_deadline(ms);
  for (;;) {
    for (uint32_t i = 0; i < c->received_length; ++i) {
      if (c->received[i] == terminator) return 1;
    }
    if (c->fin_received) return 1;
    if (c->reset) return net_error("tcp receive", "connection reset");
    struct tcp_segment s;
    if (!tcp_receive(nif, c, &s, deadline)) return net_error("tcp receive", "no reply");
    tcp_process(nif, c, &s);
  }
}

/* FIN, then wait for its ACK and the peer's FIN (resending ours every second
   while unacknowledged); RST when the peer does not finish. Returns 1 for a
   clean close, 2 after RST, 0 on failure. */
static inline int tcp_close(struct net_if* nif, struct tcp_conn* c) {
  const uint32_t fin_seq = c->snd_nxt;
  c->snd_nxt += 1;
  for (int attempt = 0; attempt < TCP_TRIES; ++attempt) {
    if (c->snd_una != c->snd_nxt && !tcp_send(nif, c, TCP_FIN | TCP_ACK, fin_seq, 0, 0)) return 0;
    const uint64_t deadline = net_deadline(TCP_RETRANSMIT_MS);
    struct tcp_segment s;
    while (tcp_receive(nif, c, &s, deadline)) {
      tcp_process(nif, c, &s);
      if (c->reset) return net_error("tcp close", "connection reset");
      if (c->snd_una == c->snd_nxt && c->fin_received) return 1;
    }
  }
  tcp_send(nif, c, TCP_RST | TCP_ACK, c->snd_nxt, 0, 0);
  return 2;
}

#endif
