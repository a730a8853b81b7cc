/**
 * Slow test: a real Debian 6.1 kernel (ELF vmlinux, 64-bit boot protocol) with
 * a busybox initramfs, booted by `nestbox run` on /dev/kvm. On the CI machines
 * (nested KVM, CPL-0 code emulated) the kernel gets through its early boot log
 * in about a minute; that log checks the boot protocol, our e820 map, the
 * initrd placement, the ACPI tables and the CPU count. The VM is stopped as
 * soon as every expected line has been seen.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { spawnNestbox, type NestboxResult } from '../guests/run-nestbox.ts';
import { prepareLinuxFixture, type LinuxFixture } from './linux-fixture.ts';
import { newcArchive } from './newc-cpio.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

const MEMORY_MIB = 512;
const CPUS = 2;
const MARKER = `nestbox.marker=${process.pid}`;
const COMMAND_LINE = [
  'console=ttyS0',
  'earlyprintk=serial,ttyS0',
  'noxsave',
  'clearcpuid=141,154',
  'mitigations=off',
  'lpj=1000000',
  MARKER,
].join(' ');
/** The whole boot must stay well inside the CI budget. */
const BOOT_TIME_LIMIT_S = 150;

const MiB = 1024 * 1024;
const hex = (value: number) => `0x${value.toString(16).padStart(16, '0')}`;

/** What our e820 map (native/src/arch/x86/e820.cc) gives for RAM below 3 GiB. */
function expectedE820(memoryMiB: number): string[] {
  return [
    [0, 0x9fc00, 'usable'],
    [0x9fc00, 0x100000, 'reserved'],
    [0x100000, memoryMiB * MiB, 'usable'],
  ].map(
    ([start, end, type]) =>
      `BIOS-e820: [mem ${hex(start as number)}-${hex((end as number) - 1)}] ${type as string}`,
  );
}

/** Where load_initrd() puts an initrd of `size` bytes: page aligned at the top of RAM. */
function expectedRamdiskStart(size: number, memoryMiB: number): number {
  return Math.floor((memoryMiB * MiB - size) / 4096) * 4096;
}

interface Expectation {
  name: string;
  /** Satisfied by the serial output so far. */
  seen(log: string): boolean;
}

function expectations(initrdSize: number): Expectation[] {
  const e820 = expectedE820(MEMORY_MIB);
  const ramdiskStart = `0x${expectedRamdiskStart(initrdSize, MEMORY_MIB).toString(16).padStart(8, '0')}`;
  return [
    { name: 'Linux version banner', seen: (log) => /Linux version 6\.1\./.test(log) },
    {
      name: 'our command line, marker included',
      seen: (log) => log.includes(`Command line: ${COMMAND_LINE}`),
    },
    { name: 'the e820 map we built', seen: (log) => e820.every((line) => log.includes(line)) },
    {
      name: `RAMDISK at ${ramdiskStart}`,
      seen: (log) => new RegExp(`RAMDISK: \\[mem ${ramdiskStart}-0x[0-9a-f]+\\]`).test(log),
    },
    { name: 'ACPI RSDP found', seen: (log) => /ACPI: RSDP 0x[0-9A-F]+/.test(log) },
    { name: 'ACPI MADT found', seen: (log) => /ACPI: APIC 0x[0-9A-F]+/.test(log) },
    {
      name: `smpboot: Allowing ${CPUS} CPUs`,
      seen: (log) => log.includes(`smpboot: Allowing ${CPUS} CPUs`),
    },
    { name: 'Memory: line', seen: (log) => /Memory: \d+K\/\d+K available/.test(log) },
  ];
}

let fixture: LinuxFixture;

describe('newc cpio writer', () => {
  test('cpio(1) lists what we wrote, with modes and devices', () => {
    const archive = newcArchive([
      { name: 'bin', type: 'directory', mode: 0o755 },
      { name: 'bin/hello', type: 'file', mode: 0o755, data: Buffer.from('hi\n') },
      { name: 'dev/console', type: 'char-device', mode: 0o600, major: 5, minor: 1 },
    ]);
    const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
    const lines = listing.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^drwxr-xr-x .* bin$/);
    assert.match(lines[1] ?? '', /^-rwxr-xr-x .* 3 .* bin\/hello$/);
    assert.match(lines[2] ?? '', /^crw------- .* 5,\s+1 .* dev\/console$/);
  });
});

describe(
  `Debian Linux 6.1 boots on nestbox run (${CPUS} CPUs, ${MEMORY_MIB} MiB)`,
  { skip: kvmSkipReason() },
  () => {
    // Fetching and unpacking Debian's kernel is only worth it where it can boot.
    before(() => {
      fixture = prepareLinuxFixture();
    });

    test('early boot log shows our boot protocol, e820, initrd, ACPI and CPUs', async (t) => {
      const initrdSize = statSync(fixture.initramfs).size;
      const wanted = expectations(initrdSize);
      let stoppedEarly = false;
      const began = performance.now();
      const { result } = spawnNestbox(
        [
          'run',
          '--kernel',
          fixture.vmlinux,
          '--initrd',
          fixture.initramfs,
          '--cpus',
          String(CPUS),
          '--memory',
          String(MEMORY_MIB),
          '--timeout',
          String(BOOT_TIME_LIMIT_S),
          '--append',
          COMMAND_LINE,
        ],
        {
          closeStdin: false,
          killAfterMs: (BOOT_TIME_LIMIT_S + 30) * 1000,
          onStdout: (log, child) => {
            if (!stoppedEarly && wanted.every((expectation) => expectation.seen(log))) {
              stoppedEarly = true;
              child.kill('SIGTERM'); // nestbox run powers the VM off (exit status 143)
            }
          },
        },
      );
      const run: NestboxResult = await result;
      const seconds = ((performance.now() - began) / 1000).toFixed(1);
      const log = run.stdout.replace(/\r/g, '');
      t.diagnostic(`${fixture.kernelPackage}: ${seconds} s, ${log.length} bytes of console output`);
      const missing = wanted.filter((expectation) => !expectation.seen(log));
      for (const expectation of wanted) {
        t.diagnostic(
          `${missing.includes(expectation) ? 'MISSING' : 'seen   '} ${expectation.name}`,
        );
      }
      assert.doesNotMatch(log, /valid RSDP was not found/);
      assert.deepEqual(
        missing.map((expectation) => expectation.name),
        [],
        `the kernel log lacks lines (exit status ${run.status}); stderr: ${run.stderr}\n` +
          `last console output:\n${log.slice(-3000)}`,
      );
      assert.ok(stoppedEarly);
      assert.equal(run.status, 143, run.stderr);
    });
  },
);
