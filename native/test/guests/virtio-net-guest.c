/* Talks to the network through the virtio-net device (00:02.0) and guest_net.h,
   polling: reads the MAC and link status from config space, leases an address
   by DHCP from libslirp, then opens a TCP connection to the host
   (10.0.2.2:port reaches the host's 127.0.0.1:port), sends `msg` and a
   newline, prints the server's reply line and closes. For virtio-net.test.ts.

   Command line: port=N msg=WORD [mrg=0|1 (default 1)] [stop=mac|dhcp]
                 [rxbufs=1..16 (receive buffers posted, default 16)]
                 [rxbuf=64..2048 (bytes each, default 2048; below 1526 needs mrg=1)]

     tsc: N kHz                       (measured against the PIT, for the timeouts)
     virtio-net: 00:02.0 features=0x... hdr=12 rx=16x2048
     mac: 02:xx:xx:xx:xx:xx
     link: up
     dhcp: ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3
     arp: 10.0.2.2 is 52:55:0a:00:02:02
     tcp: connected to 10.0.2.2:N mss=1460
     tcp received: N bytes
     tcp reply: <the server's line>
     tcp: closed                      (or "tcp: reset" when the peer never closed)
     rx: frames=N merged=M            (M: frames spread over several buffers)
     net done                         (or "net error: <step>: <why>" and a halt) */
#include "guest_io.h"
#include "guest_pci.h"
#include "guest_virtio.h"
#include "guest_net.h"

#define MAX_MESSAGE 200

static struct net_if nic;
static struct tcp_conn connection;
static char message[MAX_MESSAGE + 2];

/* Copies the word after `key` (up to a space) into `out`; returns its length. */
static uint32_t command_line_word(const char* line, const char* key, char* out, uint32_t max) {
  for (const char* at = line; *at != '\0'; ++at) {
    if (at != line && at[-1] != ' ') continue;
    int i = 0;
    while (key[i] != '\0' && at[i] == key[i]) ++i;
    if (key[i] != '\0') continue;
    uint32_t length = 0;
    for (at += i; *at != '\0' && *at != ' ' && length < max; ++at) out[length++] = *at;
    out[length] = '\0';
    return length;
  }
  out[0] = '\0';
  return 0;
}

static int word_is(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

void guest_main(const uint8_t* boot_params) {
  const char* line = boot_command_line(boot_params);
  const uint32_t port = command_line_number(line, "port=", 0);
  const int mergeable = command_line_number(line, "mrg=", 1) != 0;
  nic.rx_buffers = (int)command_line_number(line, "rxbufs=", NET_QUEUE_SIZE);
  nic.rx_buffer_size = command_line_number(line, "rxbuf=", NET_BUFFER_SIZE);
  char stop[8];
  command_line_word(line, "stop=", stop, sizeof stop - 1);
  const uint32_t message_length = command_line_word(line, "msg=", message, MAX_MESSAGE);

  if (!net_time_init()) serial_puts("net warning: PIT channel 2 did not count; assuming a 2 GHz TSC\n");
  serial_puts("tsc: ");
  serial_put_dec(net_tsc_per_ms);
  serial_puts(" kHz\n");

  if (!net_open(&nic, mergeable)) return;
  serial_puts("virtio-net: 00:");
  serial_putc((char)('0' + nic.dev.slot / 16));
  serial_putc("0123456789abcdef"[nic.dev.slot % 16]);
  serial_puts(".0 features=");
  serial_put_hex(nic.dev.features);
  serial_puts(" hdr=");
  serial_put_dec(VIRTIO_NET_HDR_SIZE);
  serial_puts(" rx=");
  serial_put_dec((uint64_t)nic.rx_buffers);
  serial_putc('x');
  serial_put_dec(nic.rx_buffer_size);
  serial_putc('\n');
  serial_puts("mac: ");
  net_put_mac(nic.mac);
  serial_puts("\nlink: ");
  serial_puts((nic.link_status & VIRTIO_NET_S_LINK_UP) ? "up\n" : "down\n");
  if (word_is(stop, "mac")) {
    serial_puts("net done\n");
    return;
  }

  if (!net_dhcp(&nic)) return;
  serial_puts("dhcp: ip=");
  net_put_ip(nic.ip);
  serial_puts(" router=");
  net_put_ip(nic.router);
  serial_puts(" dns=");
  net_put_ip(nic.dns);
  serial_putc('\n');
  if (word_is(stop, "dhcp")) {
    serial_puts("net done\n");
    return;
  }

  if (port == 0 || port > 65535) {
    net_error("setup", "no port= on the command line");
    return;
  }
  const uint32_t host = nic.router; /* slirp's gateway is also the host */
  uint8_t host_mac[6];
  if (!net_resolve(&nic, host, host_mac)) return;
  serial_puts("arp: ");
  net_put_ip(host);
  serial_puts(" is ");
  net_put_mac(host_mac);
  serial_putc('\n');

  if (!tcp_connect(&nic, &connection, host, (uint16_t)port)) return;
  serial_puts("tcp: connected to ");
  net_put_ip(host);
  serial_putc(':');
  serial_put_dec(port);
  serial_puts(" mss=");
  serial_put_dec(connection.mss);
  serial_putc('\n');

  message[message_length] = '\n';
  if (!tcp_write(&nic, &connection, (const uint8_t*)message, message_length + 1)) return;
  if (!tcp_read_until(&nic, &connection, '\n', 5000)) return;
  serial_puts("tcp received: ");
  serial_put_dec(connection.received_length);
  serial_puts(" bytes\n");
  serial_puts("tcp reply: ");
  for (uint32_t i = 0; i < connection.received_length && connection.received[i] != '\n'; ++i) {
    serial_putc((char)connection.received[i]);
  }
  serial_putc('\n');
  const int closed = tcp_close(&nic, &connection);
  if (closed == 0) return;
  serial_puts(closed == 1 ? "tcp: closed\n" : "tcp: reset\n");
  serial_puts("rx: frames=");
  serial_put_dec(nic.rx_frames);
  serial_puts(" merged=");
  serial_put_dec(nic.rx_merged_frames);
  serial_putc('\n');
  if (nic.warnings != 0) {
    serial_puts("net warnings: ");
    serial_put_dec(nic.warnings);
    serial_putc('\n');
  }
  serial_puts("net done\n");
}
