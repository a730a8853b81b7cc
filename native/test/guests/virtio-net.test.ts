/**
 * virtio-net on libslirp, end to end on real /dev/kvm: the virtio-net-guest
 * test guest (its own tiny stack, guest_net.h) finds the NIC at 00:02.0,
 * prints the MAC from config space, leases 10.0.2.15 by DHCP, then connects
 * to 10.0.2.2:PORT — which slirp turns into a connection to this process's
 * 127.0.0.1:PORT — sends a message and prints the reply of the TCP server
 * below. Also: the MAC is the stable one derived from the vmId, and an
 * explicit macAddress is used verbatim. Without a usable /dev/kvm these tests fail.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { addonWithKvm } from './kvm-addon.ts';
import {
  MachineSession,
  type MachineEnding,
} from '../../../electron/services/native/machine-session.ts';
import type {
  MachineConfig,
  NativeAddon,
  NetworkConfig,
} from '../../../electron/services/native/native-addon.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

/** Generous: CPL-0 guest code is emulated on the CI machines (~0.6 µs per instruction). */
const GUEST_TIMEOUT_MS = 120_000;

let addon: NativeAddon;
let guests: GuestImages;

before(() => {
  addon = addonWithKvm();
  guests = buildGuests();
});

/**
 * The MAC the VMM derives from a vmId (native/src/net/mac_address.cc): FNV-1a
 * over the id's bytes and the NIC index, the splitmix64 finalizer, then
 * 02:h0:h1:h2:h3:h4 (low bytes first). A stored format: guests key DHCP leases
 * and interface names on it, so it must not change.
 */
function derivedMac(vmId: string, nicIndex = 0): string {
  const mask = (1n << 64n) - 1n;
  let hash = 0xcbf29ce484222325n;
  const mixIn = (byte: number) => {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & mask;
  };
  for (const byte of Buffer.from(vmId, 'utf8')) mixIn(byte);
  mixIn(nicIndex);
  hash ^= hash >> 30n;
  hash = (hash * 0xbf58476d1ce4e5b9n) & mask;
  hash ^= hash >> 27n;
  hash = (hash * 0x94d049bb133111ebn) & mask;
  hash ^= hash >> 31n;
  const bytes = [0x02];
  for (let i = 0; i < 5; ++i) bytes.push(Number((hash >> BigInt(8 * i)) & 0xffn));
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

interface GuestRun {
  serial: string;
  ending: MachineEnding;
  logs: string[];
  seconds: number;
}

/** Boots virtio-net-guest and waits until it halts (it prints "net done" or "net error: …" first). */
async function runGuest(network: NetworkConfig, cmdline: string): Promise<GuestRun> {
  const config: MachineConfig = {
    kernelPath: guests.elf['virtio-net-guest'],
    memoryMiB: 64,
    cpus: 1,
    cmdline,
    network,
  };
  const session = new MachineSession(addon, config);
  const decoder = new TextDecoder();
  let serial = '';
  const logs: string[] = [];
  session.on('serial', (event) => {
    serial += decoder.decode(event.data, { stream: true });
  });
  session.on('log', (event) => {
    logs.push(event.message);
  });
  const started = performance.now();
  session.start();
  let timer: NodeJS.Timeout | undefined;
  try {
    const ending = await Promise.race([
      session.ended,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `virtio-net-guest (${cmdline}) timed out; serial so far: ${JSON.stringify(serial)}; ` +
                  `logs: ${JSON.stringify(logs)}`,
              ),
            ),
          GUEST_TIMEOUT_MS,
        );
      }),
    ]);
    return { serial, ending, logs, seconds: (performance.now() - started) / 1000 };
  } finally {
    clearTimeout(timer);
    if (session.state !== 'stopped' && session.state !== 'error') await session.powerOff();
    session.close();
  }
}

/** The value after `prefix` on the line that starts with it, or undefined. */
function lineValue(serial: string, prefix: string): string | undefined {
  return serial
    .split('\n')
    .find((line) => line.startsWith(prefix))
    ?.slice(prefix.length);
}

/** Asserts the guest got through every step it was asked for, without warnings. */
function assertClean(run: GuestRun): void {
  const context = `serial: ${JSON.stringify(run.serial)}; logs: ${JSON.stringify(run.logs)}`;
  assert.ok(!run.serial.includes('net error:'), `the guest failed a step; ${context}`);
  assert.ok(!run.serial.includes('net warning'), `the guest saw something wrong; ${context}`);
  assert.ok(run.serial.endsWith('net done\n'), context);
  assert.deepEqual(run.ending, { state: 'stopped', reason: 'halted' }, context);
}

const VIRTIO_F_VERSION_1 = 1n << 32n;
const VIRTIO_NET_F_MAC = 1n << 5n;
const VIRTIO_NET_F_MRG_RXBUF = 1n << 15n;
const VIRTIO_NET_F_STATUS = 1n << 16n;

/**
 * A TCP server on 127.0.0.1 that answers a line with the line upper-cased, a
 * nonce and a long tail of digits, then closes: about 3 KB, so the reply
 * crosses the NIC as several full-size (1514-byte) frames.
 */
interface ReplyServer {
  port: number;
  /** The reply to `line` (without its newline). */
  replyTo: (line: string) => string;
  /** Everything each connection sent, in order of closing. */
  received: string[];
  /** Resolves when `count` connections have closed. */
  closed: (count: number) => Promise<void>;
  server: Server;
}

async function startReplyServer(): Promise<ReplyServer> {
  const nonce = randomBytes(6).toString('hex');
  const tail = Array.from({ length: 2900 }, (_, i) => String(i % 10)).join('');
  const replyTo = (line: string) => `${line.toUpperCase()} ${nonce} ${tail}`;
  const received: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((socket) => {
    let data = '';
    let answered = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const newline = data.indexOf('\n');
      if (!answered && newline >= 0) {
        answered = true;
        socket.end(`${replyTo(data.slice(0, newline))}\n`);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      received.push(data);
      for (const waiter of [...waiters]) {
        if (received.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    replyTo,
    received,
    server,
    closed: (count) =>
      new Promise((resolve) => {
        if (received.length >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
}

describe('virtio-net on user-mode networking (libslirp)', { skip: kvmSkipReason() }, () => {
  let server: ReplyServer;
  const sameVmMacs: string[] = [];

  before(async () => {
    server = await startReplyServer();
  });

  after(() => {
    server.server.close();
  });

  const variants = [
    {
      name: 'MRG_RXBUF on, 16 buffers of 2 KiB',
      tag: 'mrg',
      mergeable: true,
      rx: '16x2048',
      merged: false,
    },
    // Frames arriving while the driver has no buffer wait in the device.
    {
      name: 'MRG_RXBUF off, one buffer at a time',
      tag: 'plain',
      mergeable: false,
      rx: '1x2048',
      merged: false,
      options: 'rxbufs=1',
    },
    // Full-size frames spread over up to 6 buffers (num_buffers > 1).
    {
      name: 'MRG_RXBUF on, frames spread over 256-byte buffers',
      tag: 'spread',
      mergeable: true,
      rx: '16x256',
      merged: true,
      options: 'rxbuf=256',
    },
  ];
  for (const { name, tag, mergeable, rx, merged, options } of variants) {
    test(`DHCP, then TCP to a server on the host's loopback (${name})`, async () => {
      const message = `hello-from-guest-${tag}`;
      const connectionsBefore = server.received.length;
      const run = await runGuest(
        { vmId: 'test-vm' },
        `port=${server.port} msg=${message} mrg=${mergeable ? 1 : 0} ${options ?? ''}`.trim(),
      );
      console.log(`# virtio-net-guest (${name}): ${run.seconds.toFixed(1)} s`);
      assertClean(run);
      const context = run.serial;

      const device = /^virtio-net: 00:02\.0 features=0x([0-9a-f]+) hdr=12 rx=(\S+)$/m.exec(
        run.serial,
      );
      assert.ok(device, context);
      assert.equal(device[2], rx, context);
      const features = BigInt(`0x${device[1]}`);
      const expected =
        VIRTIO_F_VERSION_1 |
        VIRTIO_NET_F_MAC |
        VIRTIO_NET_F_STATUS |
        (mergeable ? VIRTIO_NET_F_MRG_RXBUF : 0n);
      assert.equal(features, expected, `negotiated features; ${context}`);

      const mac = lineValue(run.serial, 'mac: ');
      assert.equal(mac, derivedMac('test-vm'), `the MAC derived from the vmId; ${context}`);
      sameVmMacs.push(mac);
      assert.equal(lineValue(run.serial, 'link: '), 'up', context);
      assert.equal(
        lineValue(run.serial, 'dhcp: '),
        'ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3',
        context,
      );
      assert.match(
        lineValue(run.serial, 'arp: 10.0.2.2 is ') ?? '',
        /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/,
        context,
      );
      assert.match(
        lineValue(run.serial, 'tcp: connected to ') ?? '',
        new RegExp(`^10\\.0\\.2\\.2:${server.port} mss=\\d+$`),
        context,
      );

      // The server saw exactly what the guest sent, and the guest printed what it answered.
      await Promise.race([
        server.closed(connectionsBefore + 1),
        new Promise((_resolve, reject) =>
          setTimeout(() => reject(new Error('the server connection never closed')), 10_000).unref(),
        ),
      ]);
      assert.deepEqual(server.received.slice(connectionsBefore), [`${message}\n`]);
      const reply = server.replyTo(message);
      assert.equal(lineValue(run.serial, 'tcp received: '), `${reply.length + 1} bytes`, context);
      assert.equal(lineValue(run.serial, 'tcp reply: '), reply, context);
      assert.ok(run.serial.includes('\ntcp: closed\n'), `a FIN exchange, not a reset; ${context}`);
      const frames = /^rx: frames=(\d+) merged=(\d+)$/m.exec(run.serial);
      assert.ok(frames, context);
      // Only frames larger than one buffer are spread: with 2 KiB buffers none is.
      assert.equal(Number(frames[2]) > 0, merged, `frames spread over several buffers; ${context}`);
    });
  }

  test('the MAC is stable per vmId, differs between vmIds, and macAddress is used verbatim', async () => {
    const again = await runGuest({ vmId: 'test-vm' }, 'stop=mac');
    assertClean(again);
    const other = await runGuest({ vmId: 'another-vm' }, 'stop=mac');
    assertClean(other);
    const explicit = await runGuest(
      { vmId: 'test-vm', macAddress: '52:54:00:AB:cd:0e' },
      'stop=dhcp',
    );
    assertClean(explicit);

    const testVmMac = derivedMac('test-vm');
    assert.equal(lineValue(again.serial, 'mac: '), testVmMac, again.serial);
    for (const earlier of sameVmMacs) assert.equal(earlier, testVmMac);
    const otherMac = lineValue(other.serial, 'mac: ');
    assert.equal(otherMac, derivedMac('another-vm'), other.serial);
    assert.notEqual(otherMac, testVmMac);
    assert.match(otherMac ?? '', /^02:/, 'locally administered, unicast');
    assert.equal(lineValue(explicit.serial, 'mac: '), '52:54:00:ab:cd:0e', explicit.serial);
    // The lease works for an explicit MAC too.
    assert.equal(
      lineValue(explicit.serial, 'dhcp: '),
      'ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.3',
      explicit.serial,
    );
  });
});
