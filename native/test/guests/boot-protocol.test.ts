/**
 * The Linux boot protocol end to end: the boot-check guest, packaged as a
 * bzImage, is booted by `nestbox run` with a command line and an initrd, and
 * reports what it found through boot_params (as a kernel would read it): the
 * command line, header fields, the e820 map, the initrd and its checksum, and
 * the ACPI tables with the MADT's CPU count. Runs on the real /dev/kvm.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuests } from './build-guests.ts';
import { guestBzImage } from './extra-images.ts';
import { runNestbox } from './run-nestbox.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

const KILL_AFTER_MS = 90_000;
const MEMORY_MIB = 128;
const MiB = 1024 * 1024;
const COMMAND_LINE = 'console=ttyS0 root=/dev/ram0 nestbox.check="quoted value" last';

let bzImage: string;
let scratch: string;
let initrd: Buffer;
let initrdPath: string;

/** FNV-1a, 32 bits, as boot-check.c computes it. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 2166136261;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash >>> 0;
}

const hex = (value: number) => `0x${value.toString(16)}`;

before(() => {
  buildGuests();
  bzImage = guestBzImage('boot-check');
  scratch = mkdtempSync(join(tmpdir(), 'nestbox-boot-protocol-'));
  // Not a multiple of the page size, so placement and size are both checked.
  initrd = Buffer.alloc(3 * 4096 + 123);
  for (let i = 0; i < initrd.length; ++i) initrd[i] = (i * 31 + 7) & 0xff;
  initrdPath = join(scratch, 'initrd.img');
  writeFileSync(initrdPath, initrd);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The value of the line starting with `prefix`, or fails listing everything printed. */
function line(output: string, prefix: string): string {
  const found = output.split('\n').find((text) => text.startsWith(prefix));
  assert.ok(found !== undefined, `no "${prefix}" line in:\n${output}`);
  return found;
}

for (const cpus of [1, 4]) {
  describe(
    `boot-check bzImage with ${cpus} CPU(s), ${MEMORY_MIB} MiB and an initrd`,
    { skip: kvmSkipReason() },
    () => {
      let output = '';
      let status: number | null = null;
      let stderr = '';

      before(async () => {
        const run = await runNestbox(
          [
            'run',
            '--kernel',
            bzImage,
            '--initrd',
            initrdPath,
            '--append',
            COMMAND_LINE,
            '--cpus',
            String(cpus),
            '--memory',
            String(MEMORY_MIB),
            '--timeout',
            '60',
          ],
          { killAfterMs: KILL_AFTER_MS },
        );
        output = run.stdout;
        status = run.status;
        stderr = run.stderr;
      });

      test('runs to the end and exits 0 (halted)', () => {
        assert.match(output, /^boot-check: start\n/);
        assert.match(output, /\nboot-check: done\n$/);
        assert.equal(status, 0, stderr);
      });

      test('the command line arrives intact', () => {
        assert.equal(line(output, 'cmdline: '), `cmdline: ${COMMAND_LINE}`);
      });

      test('header: our loader type, LOADED_HIGH and CAN_USE_HEAP', () => {
        const match = /^header: version=0x20f type_of_loader=0xff loadflags=(0x[0-9a-f]+)$/.exec(
          line(output, 'header: '),
        );
        assert.ok(match, line(output, 'header: '));
        const loadflags = Number(match[1]);
        assert.equal(loadflags & 0x01, 0x01, 'LOADED_HIGH');
        assert.equal(loadflags & 0x80, 0x80, 'CAN_USE_HEAP');
        assert.equal(loadflags & 0x40, 0, 'KEEP_SEGMENTS');
      });

      test('e820: our map, sorted, covering the kernel, BIOS area reserved', () => {
        const entries = output
          .split('\n')
          .filter((text) => /^e820: 0x/.test(text))
          .map((text) => text.slice('e820: '.length));
        assert.deepEqual(entries, [
          '0x0 0x9fc00 1',
          '0x9fc00 0x60400 2',
          `0x100000 ${hex(MEMORY_MIB * MiB - 0x100000)} 1`,
        ]);
        assert.equal(
          line(output, 'e820 check: '),
          'e820 check: entries=3 sorted=yes overlap=no kernel-in-ram=yes bios-area-reserved=yes',
        );
      });

      test('initrd: at the top of RAM, page aligned, above the kernel, bytes intact', () => {
        const address = Math.floor((MEMORY_MIB * MiB - initrd.length) / 4096) * 4096;
        assert.equal(
          line(output, 'initrd: '),
          `initrd: address=${hex(address)} size=${hex(initrd.length)} fnv1a=${hex(fnv1a(initrd))} ` +
            'page-aligned=yes above-kernel=yes',
        );
      });

      test('ACPI: RSDP through boot_params and the BIOS-area scan, valid checksums', () => {
        const match =
          /^rsdp: boot_params=(0x[0-9a-f]+) scan=(0x[0-9a-f]+) revision=(\d+) checksum=ok$/.exec(
            line(output, 'rsdp: '),
          );
        assert.ok(match, line(output, 'rsdp: '));
        const [, fromBootParams = '', scanned = '', revision = ''] = match;
        assert.notEqual(Number(fromBootParams), 0, 'boot_params.acpi_rsdp_addr is set');
        assert.equal(fromBootParams, scanned, 'both ways find the same RSDP');
        assert.ok(Number(scanned) >= 0xe0000 && Number(scanned) < 0x100000);
        assert.equal(revision, '2');
        assert.match(line(output, 'xsdt: '), /^xsdt: checksum=ok entries=\d+$/);
      });

      test(`MADT: valid, ${cpus} Local APIC(s)`, () => {
        assert.equal(line(output, 'madt: '), `madt: checksum=ok lapic=${cpus}`);
      });
    },
  );
}
