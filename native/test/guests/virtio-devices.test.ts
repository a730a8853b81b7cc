/**
 * The PCI root complex and the virtio devices on real /dev/kvm, driven by
 * freestanding guests (pci-enum.c, virtio-blk-guest.c, virtio-rng-guest.c,
 * over guest_pci.h and guest_virtio.h) through the addon:
 * - PCI enumeration through 0xCF8/0xCFC and ECAM finds the host bridge and
 *   every configured virtio device at its slot, with its IDs, a 32 KiB 64-bit
 *   BAR 0 inside the MMIO window, the virtio capabilities and MSI-X, and both
 *   mechanisms read the same configuration space; the default display adds
 *   bochs-display (00:01.0, a 16 MiB 32-bit prefetchable BAR 0) and the
 *   virtio keyboard and tablet (00:14.0, 00:15.0); `display: null` leaves
 *   all three out;
 * - virtio-blk on raw and qcow2 images: the guest reads what the test wrote,
 *   writes a pattern the test then finds in the file (qcow2: through
 *   qemu-img, which also checks the image), GET_ID returns the serial, a
 *   request beyond the end fails; a read-only disk refuses writes and its file
 *   is unchanged; the second disk is the next slot with its own file;
 * - virtio-rng returns non-zero bytes that differ between requests;
 * - corrupt, truncated and missing images are refused when the machine is
 *   created, with a message naming the file and the problem, the file untouched.
 * Needs /dev/kvm and qemu-img (Debian qemu-utils).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addonWithKvm } from './kvm-addon.ts';
import { MachineSession } from '../../../electron/services/native/machine-session.ts';
import type {
  MachineConfig,
  MachineEvent,
  NativeAddon,
  NativeError,
} from '../../../electron/services/native/native-addon.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

/** Generous: CPL-0 guest code is emulated on the CI machines (~0.6 µs per instruction). */
const GUEST_TIMEOUT_MS = 90_000;
const SECTOR = 512;
const MiB = 1024 * 1024;
const DISK_SIZE = 4 * MiB;

/** The MMIO window for BARs (native/src/bus/pci/pci_layout.h). */
const BAR_WINDOW_START = 0xc000_0000n;
const BAR_WINDOW_END = 0xe000_0000n;
const VIRTIO_BAR_SIZE = 0x8000n;

let addon: NativeAddon;
let guests: GuestImages;
let scratch: string;

before(() => {
  addon = addonWithKvm();
  const qemuImg = spawnSync('qemu-img', ['--version'], { encoding: 'utf8' });
  assert.equal(qemuImg.status, 0, 'these tests need qemu-img (Debian package qemu-utils)');
  guests = buildGuests();
  scratch = mkdtempSync(join(tmpdir(), 'nestbox-virtio-'));
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// ---- running a guest ----

interface Run {
  session: MachineSession;
  serial: () => string;
  events: MachineEvent[];
  seconds: number;
}

/** Runs `config` until the machine stops; fails with the serial output on a timeout. */
async function runGuest(config: MachineConfig): Promise<Run> {
  const session = new MachineSession(addon, config);
  const decoder = new TextDecoder();
  let serial = '';
  const events: MachineEvent[] = [];
  for (const type of ['serial', 'state', 'reset', 'error', 'log'] as const) {
    session.on(type, (event: MachineEvent) => {
      if (event.type === 'serial') serial += decoder.decode(event.data, { stream: true });
      else events.push(event);
    });
  }
  const began = performance.now();
  session.start();
  let timer: NodeJS.Timeout | undefined;
  try {
    const ending = await Promise.race([
      session.ended,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          session.powerOff().catch(() => undefined);
          reject(new Error(`timed out; serial so far: ${JSON.stringify(serial)}`));
        }, GUEST_TIMEOUT_MS);
      }),
    ]);
    assert.deepEqual(
      ending,
      { state: 'stopped', reason: 'halted' },
      `the guest should halt; serial: ${serial}`,
    );
  } finally {
    clearTimeout(timer);
    if (session.state === 'stopped' || session.state === 'error') session.close();
  }
  const seconds = (performance.now() - began) / 1000;
  return { session, serial: () => serial, events, seconds };
}

/** The line starting with `prefix`, or fails listing everything printed. */
function lineStarting(output: string, prefix: string): string {
  const found = output.split('\n').find((text) => text.startsWith(prefix));
  assert.ok(found !== undefined, `no "${prefix}" line in:\n${output}`);
  return found;
}

/** key=value fields of a line (values run to the next space). */
function fields(line: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const match of line.matchAll(/(\S+?)=("[^"]*"|\S*)/g)) {
    result[match[1] ?? ''] = match[2] ?? '';
  }
  return result;
}

// ---- images ----

/** FNV-1a, 32 bits, as virtio-blk-guest.c computes it. */
function fnv1a(bytes: Uint8Array): string {
  let hash = 2166136261;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return `0x${(hash >>> 0).toString(16)}`;
}

/** What virtio-blk-guest.c writes: byte i of sector s is (s * 13 + i * 7 + 0x5a) & 0xff. */
function pattern(firstSector: number, count: number): Buffer {
  const bytes = Buffer.alloc(count * SECTOR);
  for (let s = 0; s < count; ++s) {
    for (let i = 0; i < SECTOR; ++i) {
      bytes[s * SECTOR + i] = ((firstSector + s) * 13 + i * 7 + 0x5a) & 0xff;
    }
  }
  return bytes;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let imageCounter = 0;
function scratchPath(name: string): string {
  return join(scratch, `${++imageCounter}-${name}`);
}

/** A DISK_SIZE raw image with random bytes in sectors 0-7 and 200-201; returns its content. */
function makeRawImage(path: string): Buffer {
  const content = Buffer.alloc(DISK_SIZE);
  randomBytes(8 * SECTOR).copy(content, 0);
  randomBytes(2 * SECTOR).copy(content, 200 * SECTOR);
  writeFileSync(path, content);
  return content;
}

/** The same content as a qcow2 image (qemu-img convert: zero areas stay unallocated). */
function makeQcow2Image(path: string): Buffer {
  const raw = `${path}.source.raw`;
  const content = makeRawImage(raw);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, path]);
  rmSync(raw);
  return content;
}

/** The guest-visible bytes of an image (qcow2 through qemu-img convert). */
function imageBytes(path: string, format: 'raw' | 'qcow2'): Buffer {
  if (format === 'raw') return readFileSync(path);
  const raw = `${path}.converted.raw`;
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, raw]);
  const bytes = readFileSync(raw);
  rmSync(raw);
  return bytes;
}

function qemuImgCheck(path: string): { status: number | null; output: string } {
  const result = spawnSync('qemu-img', ['check', path], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

const hexHead = (bytes: Buffer) => bytes.subarray(0, 16).toString('hex');

// ---- PCI enumeration ----

interface PciLine {
  slot: number;
  id: string;
  rev: string;
  class: string;
  cmd: number;
  bar0: bigint;
  size: bigint;
  type: string;
  pin: number;
  line: number;
  caps: string[];
  msix?: number;
  mult?: number;
}

function pciLines(
  output: string,
  mechanism: 'cf8' | 'ecam',
): { text: string[]; parsed: PciLine[] } {
  const text = output
    .split('\n')
    .filter((line) => line.startsWith(`${mechanism} slot=`))
    .map((line) => line.slice(mechanism.length + 1));
  const parsed = text.map((line) => {
    const f = fields(line);
    return {
      slot: parseInt(f.slot ?? '', 16),
      id: f.id ?? '',
      rev: f.rev ?? '',
      class: f.class ?? '',
      cmd: parseInt(f.cmd ?? '', 16),
      bar0: BigInt(f.bar0 ?? '0'),
      size: BigInt(f.size ?? '0'),
      type: f.type ?? '',
      pin: Number(f.pin),
      line: Number(f.line),
      caps: (f.caps ?? '').split(','),
      ...(f.msix !== undefined ? { msix: Number(f.msix) } : {}),
      ...(f.mult !== undefined ? { mult: Number(f.mult) } : {}),
    };
  });
  return { text, parsed };
}

describe('PCI enumeration (pci-enum guest)', { skip: kvmSkipReason() }, () => {
  test('host bridge, display, virtio-net, virtio-rng, two virtio-blk and virtio-input, the same through CF8 and ECAM', async () => {
    const disk1 = scratchPath('enum-1.raw');
    const disk2 = scratchPath('enum-2.raw');
    writeFileSync(disk1, Buffer.alloc(MiB));
    writeFileSync(disk2, Buffer.alloc(MiB));
    const run = await runGuest({
      kernelPath: guests.elf['pci-enum'],
      memoryMiB: 64,
      cpus: 1,
      disks: [{ path: disk1 }, { path: disk2, readOnly: true }],
      network: {},
      entropy: true,
    });
    console.log(`# pci-enum: ${run.seconds.toFixed(2)} s`);
    const output = run.serial();
    assert.match(output, /pci-enum done\n$/, output);

    const cf8 = pciLines(output, 'cf8');
    const ecam = pciLines(output, 'ecam');
    assert.deepEqual(ecam.text, cf8.text, 'ECAM and CF8 enumerate the same');
    assert.match(output, /^cf8 devices=8$/m);
    assert.match(output, /^ecam devices=8$/m);
    assert.match(output, /^compare: differing-dwords=0 absent-all-ones=yes$/m);

    const bySlot = new Map(cf8.parsed.map((line) => [line.slot, line]));
    assert.deepEqual([...bySlot.keys()], [0, 1, 2, 3, 4, 5, 0x14, 0x15]);
    const at = (slot: number): PciLine => {
      const line = bySlot.get(slot);
      assert.ok(line, `a device at slot ${slot}: ${output}`);
      return line;
    };

    const bridge = at(0);
    assert.equal(bridge.id, '1b36:0008');
    assert.equal(bridge.class, '060000');
    assert.equal(bridge.type, 'none');
    assert.equal(bridge.pin, 0);

    // The display (bochs-display): BAR 0 is the whole video memory, 32-bit
    // and prefetchable; no interrupt, no capabilities. (Its 4 KiB BAR 2 is
    // checked by display.test.ts.)
    const display = at(1);
    const displayWhat = `bochs-display at 00:01.0: ${JSON.stringify(display, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`;
    assert.equal(display.id, '1234:1111', displayWhat);
    assert.equal(display.class, '038000', `other display controller: ${displayWhat}`);
    assert.equal(display.rev, '02', displayWhat);
    assert.equal(display.type, 'mem32,pf', `BAR 0: 32-bit prefetchable memory: ${displayWhat}`);
    assert.equal(display.size, 16n * BigInt(MiB), `BAR 0: 16 MiB of video memory: ${displayWhat}`);
    assert.ok(
      display.bar0 >= BAR_WINDOW_START && display.bar0 + display.size <= BAR_WINDOW_END,
      `BAR 0 inside 0xc0000000-0xdfffffff: ${displayWhat}`,
    );
    assert.equal(display.bar0 % display.size, 0n, `BAR 0 naturally aligned: ${displayWhat}`);
    assert.equal(display.cmd & 0x2, 0x2, `memory decoding enabled: ${displayWhat}`);
    assert.equal(display.pin, 0, `no interrupt pin: ${displayWhat}`);
    assert.deepEqual(display.caps, ['none'], displayWhat);

    const expected = [
      { slot: 2, id: '1af4:1041', class: '020000', device: true, what: 'virtio-net' },
      { slot: 3, id: '1af4:1044', class: 'ff0000', device: false, what: 'virtio-rng' },
      { slot: 4, id: '1af4:1042', class: '010000', device: true, what: 'virtio-blk 1' },
      { slot: 5, id: '1af4:1042', class: '010000', device: true, what: 'virtio-blk 2' },
      { slot: 0x14, id: '1af4:1052', class: '090000', device: true, what: 'virtio keyboard' },
      { slot: 0x15, id: '1af4:1052', class: '090000', device: true, what: 'virtio tablet' },
    ];
    const bars: [bigint, bigint][] = [[display.bar0, display.bar0 + display.size]];
    for (const want of expected) {
      const line = at(want.slot);
      const what = `${want.what} at 00:${want.slot.toString(16).padStart(2, '0')}.0: ${JSON.stringify(line, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`;
      assert.equal(line.id, want.id, what);
      assert.equal(line.class, want.class, what);
      assert.equal(line.rev, '01', what);
      assert.equal(line.type, 'mem64', `BAR 0 is a 64-bit, non-prefetchable memory BAR: ${what}`);
      assert.equal(line.size, VIRTIO_BAR_SIZE, what);
      assert.ok(
        line.bar0 >= BAR_WINDOW_START && line.bar0 + line.size <= BAR_WINDOW_END,
        `BAR 0 inside 0xc0000000-0xdfffffff: ${what}`,
      );
      assert.equal(line.bar0 % line.size, 0n, `BAR 0 naturally aligned: ${what}`);
      assert.equal(line.cmd & 0x2, 0x2, `memory decoding enabled: ${what}`);
      assert.equal(line.pin, 1, `INTA: ${what}`);
      // The interrupt line register names the GSI the _PRT routes INTA to:
      // 16 + (slot + pin - 1) mod 4 (native/src/bus/pci/pci_intx.h).
      assert.equal(line.line, 16 + ((want.slot + line.pin - 1) % 4), `interrupt line: ${what}`);
      const caps = [
        'common',
        'notify',
        'isr',
        ...(want.device ? ['device'] : []),
        'pci-cfg',
        'msix',
      ];
      assert.deepEqual(line.caps, caps, what);
      assert.equal(line.mult, 4, `notify_off_multiplier: ${what}`);
      assert.ok((line.msix ?? 0) >= 2, `MSI-X: one vector per queue and one for config: ${what}`);
      bars.push([line.bar0, line.bar0 + line.size]);
    }
    assert.equal(at(3).msix, 2, 'virtio-rng: one queue + config');
    bars.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    bars.reduce((previous, current) => {
      assert.ok(current[0] >= previous[1], 'BARs do not overlap');
      return current;
    });

    // guest_pci.h's helpers (pci_enumerate, pci_bar_address/size, pci_find_capability) agree.
    const lib = output.split('\n').filter((line) => line.startsWith('lib slot='));
    assert.equal(lib.length, 8, output);
    for (const entry of lib) {
      const f = fields(entry);
      const line = at(parseInt(f.slot ?? '', 16));
      assert.equal(f.id, line.id);
      assert.equal(f.class, line.class);
      assert.equal(BigInt(f.bar0 ?? ''), line.bar0);
      assert.equal(BigInt(f.size ?? ''), line.size);
      assert.equal(f['msix-cap'] !== '0x0', line.caps.includes('msix'));
    }

    // After all the sizing every BAR still decodes; moving one works.
    assert.match(output, /^bar-live slot=02 num_queues=2$/m, 'virtio-net: receive and transmit');
    assert.match(output, /^bar-live slot=03 num_queues=1$/m);
    assert.match(output, /^bar-live slot=04 num_queues=1$/m);
    assert.match(output, /^bar-live slot=05 num_queues=1$/m);
    assert.match(output, /^bar-live slot=14 num_queues=2$/m, 'virtio keyboard: events and status');
    assert.match(output, /^bar-live slot=15 num_queues=2$/m, 'virtio tablet: events and status');
    // pci-enum moves the last virtio device's BAR 0: the tablet's.
    assert.equal(
      lineStarting(output, 'bar-move '),
      'bar-move slot=15 decoding-off=ffff decoding-on=0002 bar=0xd0000000 new=0002 old=ffff ' +
        'restored=0002 new-after=ffff',
      'memory decoding off: unclaimed (all ones); BAR moved: decodes at the new address only',
    );
  });

  test('without disks, network, entropy and display only the host bridge is present', async () => {
    const run = await runGuest({
      kernelPath: guests.elf['pci-enum'],
      memoryMiB: 64,
      cpus: 1,
      entropy: false,
      display: null,
    });
    const output = run.serial();
    assert.match(output, /^cf8 devices=1$/m, output);
    assert.match(output, /^ecam devices=1$/m, output);
    assert.match(output, /^cf8 slot=00 id=1b36:0008 /m, output);
  });
});

// ---- virtio-blk ----

interface BlkRun {
  output: string;
  seconds: number;
  /** The machine's log events (failed requests are logged, naming the disk). */
  logs: string[];
}

async function runBlk(disks: MachineConfig['disks'], cmdline: string): Promise<BlkRun> {
  const run = await runGuest({
    kernelPath: guests.elf['virtio-blk-guest'],
    memoryMiB: 64,
    cpus: 1,
    disks,
    entropy: false,
    cmdline,
  });
  const logs = run.events.flatMap((event) => (event.type === 'log' ? [event.message] : []));
  return { output: run.serial(), seconds: run.seconds, logs };
}

for (const format of ['raw', 'qcow2'] as const) {
  describe(`virtio-blk on a ${format} image`, { skip: kvmSkipReason() }, () => {
    test('reads what the test wrote, writes a pattern the file then holds, GET_ID, beyond-end', async () => {
      const path = scratchPath(`rw.${format}`);
      const content = format === 'raw' ? makeRawImage(path) : makeQcow2Image(path);
      // qcow2: 64 KiB clusters; sectors 126-129 straddle the first two clusters
      // (the second unallocated until now).
      const writeSector = format === 'raw' ? 100 : 126;
      const writeCount = 4;
      const serial = `nestbox-${format}-disk`;
      const run = await runBlk(
        [{ path, serial }],
        `read=0 rcount=8 write=${writeSector} wcount=${writeCount}`,
      );
      console.log(`# virtio-blk ${format}: ${run.seconds.toFixed(2)} s`);
      const output = run.output;

      const info = fields(lineStarting(output, 'blk: features='));
      assert.equal(info.capacity, String(DISK_SIZE / SECTOR), output);
      assert.equal(info.ro, '0', output);
      assert.equal(lineStarting(output, 'blk: id='), `blk: id="${serial}" status=0`);

      const read = fields(lineStarting(output, 'blk: read '));
      assert.equal(read.status, '0', output);
      assert.equal(read.head, hexHead(content), 'the first bytes the guest read');
      assert.equal(read.fnv1a, fnv1a(content.subarray(0, 8 * SECTOR)), 'checksum of sectors 0-7');

      const before = fields(lineStarting(output, 'blk: before-write '));
      assert.equal(
        before.fnv1a,
        fnv1a(content.subarray(writeSector * SECTOR, (writeSector + writeCount) * SECTOR)),
      );
      assert.equal(fields(lineStarting(output, 'blk: write ')).status, '0', output);
      assert.equal(lineStarting(output, 'blk: flush '), 'blk: flush status=0');
      assert.equal(
        lineStarting(output, 'blk: verify '),
        `blk: verify match at=${writeCount * SECTOR}`,
      );
      assert.equal(lineStarting(output, 'blk: beyond-end '), 'blk: beyond-end status=1');
      assert.match(output, /^blk ok$/m, output);

      // The file: the pattern at the right offset, everything else as it was.
      const expected = Buffer.from(content);
      pattern(writeSector, writeCount).copy(expected, writeSector * SECTOR);
      const actual = imageBytes(path, format);
      assert.equal(actual.length, DISK_SIZE);
      assert.ok(
        actual
          .subarray(writeSector * SECTOR, (writeSector + writeCount) * SECTOR)
          .equals(pattern(writeSector, writeCount)),
        'the pattern is in the image at the sector the guest wrote',
      );
      assert.ok(actual.equals(expected), 'nothing else in the image changed');
      if (format === 'qcow2') {
        const check = qemuImgCheck(path);
        assert.equal(check.status, 0, `qemu-img check: ${check.output}`);
      }
    });

    test('a read-only disk reports RO, fails the write with IOERR and the file stays the same', async () => {
      const path = scratchPath(`ro.${format}`);
      const content = format === 'raw' ? makeRawImage(path) : makeQcow2Image(path);
      const hash = sha256(path);
      const run = await runBlk([{ path, readOnly: true }], 'read=200 rcount=2 write=0 wcount=2');
      console.log(`# virtio-blk ${format} read-only: ${run.seconds.toFixed(2)} s`);
      const output = run.output;
      assert.equal(fields(lineStarting(output, 'blk: features=')).ro, '1', output);
      const read = fields(lineStarting(output, 'blk: read '));
      assert.equal(read.fnv1a, fnv1a(content.subarray(200 * SECTOR, 202 * SECTOR)));
      assert.equal(
        lineStarting(output, 'blk: write '),
        'blk: write sector=0 count=2 status=1',
        'VIRTIO_BLK_S_IOERR',
      );
      assert.match(lineStarting(output, 'blk: after-write '), / unchanged=yes$/);
      assert.ok(
        run.logs.some((message) => message.includes(path) && /read-only/.test(message)),
        `the refused write is logged, naming the disk: ${JSON.stringify(run.logs)}`,
      );
      assert.match(output, /^blk ok$/m, output);
      assert.equal(sha256(path), hash, 'the image file is byte-identical');
      if (format === 'qcow2') {
        const check = qemuImgCheck(path);
        assert.equal(check.status, 0, `qemu-img check: ${check.output}`);
      }
    });
  });
}

describe('virtio-blk after the guest moves its BAR', { skip: kvmSkipReason() }, () => {
  test('requests work at the new address and a notify at the old one is not delivered', async () => {
    const path = scratchPath('moved.raw');
    const content = makeRawImage(path);
    const run = await runBlk([{ path }], 'move=1 read=0 rcount=4 write=40 wcount=2');
    const output = run.output;
    assert.equal(
      fields(lineStarting(output, 'blk: read ')).fnv1a,
      fnv1a(content.subarray(0, 4 * SECTOR)),
    );
    assert.equal(
      lineStarting(output, 'blk: moved '),
      'blk: moved bar=0xd0000000 stale-notify=ignored control=ok status=0',
      output,
    );
    assert.match(output, /^blk ok$/m, output);
    assert.ok(
      readFileSync(path)
        .subarray(40 * SECTOR, 42 * SECTOR)
        .equals(pattern(40, 2)),
    );
  });
});

describe('virtio-blk with two disks', { skip: kvmSkipReason() }, () => {
  test('the second disk (00:05.0) is backed by the second file; the first is untouched', async () => {
    const first = scratchPath('first.raw');
    const second = scratchPath('second.qcow2');
    makeRawImage(first);
    const content = makeQcow2Image(second);
    const firstHash = sha256(first);
    const run = await runBlk(
      [
        { path: first, serial: 'first' },
        { path: second, serial: 'second' },
      ],
      'disk=1 read=200 rcount=2 write=300 wcount=8',
    );
    const output = run.output;
    assert.equal(lineStarting(output, 'blk: id='), 'blk: id="second" status=0');
    assert.equal(
      fields(lineStarting(output, 'blk: read ')).fnv1a,
      fnv1a(content.subarray(200 * SECTOR, 202 * SECTOR)),
    );
    assert.match(output, /^blk ok$/m, output);
    assert.equal(sha256(first), firstHash, 'the first disk was not written');
    assert.ok(
      imageBytes(second, 'qcow2')
        .subarray(300 * SECTOR, 308 * SECTOR)
        .equals(pattern(300, 8)),
    );
    assert.equal(qemuImgCheck(second).status, 0);
  });
});

// ---- virtio-rng ----

describe('virtio-rng', { skip: kvmSkipReason() }, () => {
  test('two 64-byte reads are not all zero and differ', async () => {
    const run = await runGuest({
      kernelPath: guests.elf['virtio-rng-guest'],
      memoryMiB: 64,
      cpus: 1,
    });
    console.log(`# virtio-rng: ${run.seconds.toFixed(2)} s`);
    const output = run.serial();
    assert.match(output, /^rng done$/m, output);
    const reads = [1, 2].map((n) => {
      const f = fields(lineStarting(output, `rng: read ${n} `));
      assert.equal(f.len, '64', output);
      assert.match(f.bytes ?? '', /^[0-9a-f]{128}$/);
      return f.bytes ?? '';
    });
    for (const bytes of reads) assert.notEqual(bytes, '0'.repeat(128), 'not all zero');
    assert.notEqual(reads[0], reads[1], 'two reads differ');
  });

  test('entropy: false leaves the device out', async () => {
    const run = await runGuest({
      kernelPath: guests.elf['virtio-rng-guest'],
      memoryMiB: 64,
      cpus: 1,
      entropy: false,
    });
    assert.equal(run.serial(), 'virtio: type 4: no such PCI device\nrng failed\n');
  });
});

// ---- images the machine must refuse ----

/** qcow2 header fields (big-endian), QEMU docs/interop/qcow2.rst. */
const QCOW2_L1_TABLE_OFFSET = 40;
const QCOW2_INCOMPATIBLE_FEATURES = 72;

function freshQcow2(name: string): string {
  const path = scratchPath(name);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, String(DISK_SIZE)]);
  return path;
}

function patchQcow2(path: string, offset: number, value: bigint): void {
  const bytes = readFileSync(path);
  bytes.writeBigUInt64BE(value, offset);
  writeFileSync(path, bytes);
}

/** The error creating (or else starting) a machine with `path` as its disk. */
async function machineError(path: string, readOnly = false): Promise<NativeError> {
  const config: MachineConfig = {
    kernelPath: guests.elf['virtio-blk-guest'],
    memoryMiB: 64,
    cpus: 1,
    disks: [{ path, readOnly }],
  };
  let session: MachineSession;
  try {
    session = new MachineSession(addon, config);
  } catch (error) {
    return error as NativeError;
  }
  // Not refused at creation: it must fail at start at the latest.
  try {
    session.start();
  } catch (error) {
    session.close();
    return error as NativeError;
  }
  const ending = await Promise.race([
    session.ended,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000)),
  ]);
  if (ending === null) await session.powerOff();
  session.close();
  assert.fail(
    `a machine with ${path} was created and started (${JSON.stringify(ending)}); ` +
      'the image should have been refused',
  );
}

describe('disk images the machine refuses', { skip: kvmSkipReason() }, () => {
  const cases: {
    what: string;
    make: () => string;
    code: string;
    message: RegExp;
  }[] = [
    {
      what: 'a qcow2 whose L1 table offset lies beyond the end of the file',
      make: () => {
        const path = freshQcow2('l1-beyond.qcow2');
        patchQcow2(path, QCOW2_L1_TABLE_OFFSET, 0x1_0000_0000n);
        return path;
      },
      code: 'IMAGE_CORRUPT',
      message: /L1 table.*beyond the end of the file/,
    },
    {
      what: 'a qcow2 with an unknown incompatible feature bit',
      make: () => {
        const path = freshQcow2('incompatible.qcow2');
        patchQcow2(path, QCOW2_INCOMPATIBLE_FEATURES, 1n << 40n);
        return path;
      },
      code: 'IMAGE_UNSUPPORTED',
      message: /incompatible feature bit 40/,
    },
    {
      what: 'a qcow2 truncated after its header cluster',
      make: () => {
        const path = freshQcow2('truncated.qcow2');
        truncateSync(path, 65536);
        return path;
      },
      code: 'IMAGE_CORRUPT',
      message: /beyond the end of the file.*truncated/,
    },
    {
      what: 'a qcow2 truncated inside its header',
      make: () => {
        const path = freshQcow2('short.qcow2');
        truncateSync(path, 48);
        return path;
      },
      code: 'IMAGE_CORRUPT',
      message: /too short/,
    },
  ];
  for (const { what, make, code, message } of cases) {
    test(`${what}: ${code}, the file named, the file unchanged`, async () => {
      const path = make();
      const hash = sha256(path);
      for (const readOnly of [false, true]) {
        const error = await machineError(path, readOnly);
        assert.equal(error.code, code, `${error.code}: ${error.message}`);
        assert.ok(error.message.includes(path), `the message names the file: ${error.message}`);
        assert.match(error.message, message);
      }
      assert.equal(sha256(path), hash, 'the image file is byte-identical');
    });
  }

  test('a missing image: IMAGE_NOT_FOUND naming the file', async () => {
    const path = join(scratch, 'does-not-exist.qcow2');
    const error = await machineError(path);
    assert.equal(error.code, 'IMAGE_NOT_FOUND', error.message);
    assert.ok(error.message.includes(path), error.message);
  });
});
