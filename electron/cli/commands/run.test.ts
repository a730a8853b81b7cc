/**
 * `nestbox run` end to end: the CLI is spawned as a user would run it, booting
 * the test guests on the real /dev/kvm (skipped where the machine has no KVM
 * device node; see kvm-for-tests.ts), plus unit tests of its argument parsing and console escape handling.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuests, type GuestImages } from '../../../native/test/guests/build-guests.ts';
import { runNestbox, spawnNestbox } from '../../../native/test/guests/run-nestbox.ts';
import {
  EscapeFilter,
  exitStatusFor,
  formatRegisters,
  kvmDevicePath,
  parseRunOptions,
  runCommand,
} from './run.ts';
import { kvmSkipReason } from '../../../native/test/kvm-for-tests.ts';

/** Generous: CPL-0 guest code is emulated on the CI machines. */
const KILL_AFTER_MS = 60_000;
/** The unprivileged user and group "nobody". */
const NOBODY = { uid: 65534, gid: 65534 };

/** The CLI reports problems as messages, never as an uncaught exception's stack. */
function assertNoStackTrace(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at .*:\d+:\d+\)?$/m, `a stack trace on stderr:\n${stderr}`);
  assert.doesNotMatch(stderr, /Uncaught|TypeError|RangeError|node:internal/, stderr);
}

/** A 64-byte ELF64 header (little-endian, ET_EXEC) for `machine`; no program headers needed. */
function elf64Header(machine: number): Buffer {
  const header = Buffer.alloc(64);
  header.write('\x7fELF', 0, 'latin1');
  header.writeUInt8(2, 4); // ELFCLASS64
  header.writeUInt8(1, 5); // ELFDATA2LSB
  header.writeUInt8(1, 6); // EV_CURRENT
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(machine, 18);
  header.writeUInt32LE(1, 20);
  header.writeUInt16LE(64, 52); // e_ehsize
  return header;
}

/** A 52-byte ELF32 header (little-endian, ET_EXEC) for `machine`. */
function elf32Header(machine: number): Buffer {
  const header = Buffer.alloc(52);
  header.write('\x7fELF', 0, 'latin1');
  header.writeUInt8(1, 4); // ELFCLASS32
  header.writeUInt8(1, 5);
  header.writeUInt8(1, 6);
  header.writeUInt16LE(2, 16);
  header.writeUInt16LE(machine, 18);
  header.writeUInt32LE(1, 20);
  header.writeUInt16LE(52, 40); // e_ehsize
  return header;
}

let guests: GuestImages;
let scratch: string;

before(() => {
  guests = buildGuests();
  scratch = mkdtempSync(join(tmpdir(), 'nestbox-run-test-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('nestbox run: arguments', () => {
  test('parses every option, with defaults', () => {
    assert.deepEqual(parseRunOptions(['--kernel', guests.elf.hello]), {
      kernelPath: guests.elf.hello,
      cmdline: '',
      cpus: 1,
      memoryMiB: 256,
      noReboot: false,
      disks: [],
    });
    assert.deepEqual(
      parseRunOptions([
        '--kernel',
        guests.elf.hello,
        '--initrd',
        guests.flat.hello,
        '--append',
        'console=ttyS0 quiet',
        '--cpus',
        '4',
        '--memory',
        '512',
        '--timeout',
        '2.5',
        '--no-reboot',
        '--disk',
        guests.flat.hello,
        '--disk',
        `${guests.elf.hello},readonly`,
        '--forward',
        'tcp:8022:22',
        '--forward',
        'udp:5353:53',
      ]),
      {
        kernelPath: guests.elf.hello,
        initrdPath: guests.flat.hello,
        cmdline: 'console=ttyS0 quiet',
        cpus: 4,
        memoryMiB: 512,
        timeoutSeconds: 2.5,
        noReboot: true,
        disks: [{ path: guests.flat.hello }, { path: guests.elf.hello, readOnly: true }],
        network: {
          portForwards: [
            { protocol: 'tcp', hostPort: 8022, guestPort: 22 },
            { protocol: 'udp', hostPort: 5353, guestPort: 53 },
          ],
        },
      },
    );
    assert.equal(parseRunOptions(['--help']), 'help');
    assert.deepEqual(
      parseRunOptions(['--kernel', guests.elf.hello, '--memory', '64', '--cpus', '64']),
      {
        kernelPath: guests.elf.hello,
        cmdline: '',
        cpus: 64,
        memoryMiB: 64,
        noReboot: false,
        disks: [],
      },
    );
    const withNet = parseRunOptions(['--kernel', guests.elf.hello, '--net']);
    assert.ok(withNet !== 'help');
    assert.deepEqual(withNet.network, { portForwards: [] });
  });

  test('NESTBOX_KVM_DEVICE picks the KVM device node, documented in --help', () => {
    assert.equal(kvmDevicePath({}), '/dev/kvm');
    assert.equal(kvmDevicePath({ NESTBOX_KVM_DEVICE: '' }), '/dev/kvm');
    assert.equal(kvmDevicePath({ NESTBOX_KVM_DEVICE: '/dev/kvm-2' }), '/dev/kvm-2');
    assert.match(runCommand.usage, /^ {2}NESTBOX_KVM_DEVICE=PATH +the KVM device node to use/m);
  });

  test('refuses bad values with a one-line reason', () => {
    const cases: [string[], RegExp][] = [
      [[], /--kernel PATH is required/],
      [['--kernel', join(scratch, 'missing')], /kernel file not found: .*missing/],
      [['--kernel', scratch], /is not a regular file/],
      [['--kernel', guests.elf.hello, '--initrd', join(scratch, 'nope')], /initrd file not found/],
      [['--kernel', guests.elf.hello, '--cpus', '0'], /--cpus must be a whole number/],
      [['--kernel', guests.elf.hello, '--cpus', 'two'], /--cpus must be a whole number/],
      [['--kernel', guests.elf.hello, '--memory', '1.5'], /--memory must be a whole number/],
      [['--kernel', guests.elf.hello, '--memory', '99999999'], /--memory must be/],
      [['--kernel', guests.elf.hello, '--memory', '63'], /--memory .* from 64 to 1048576/],
      [['--kernel', guests.elf.hello, '--cpus', '65'], /--cpus .* from 1 to 64, not "65"/],
      [['--kernel', guests.elf.hello, '--disk', join(scratch, 'no.qcow2')], /disk file not found/],
      [['--kernel', guests.elf.hello, '--forward', 'tcp:80'], /--forward must look like/],
      [['--kernel', guests.elf.hello, '--forward', 'sctp:1:2'], /--forward must look like/],
      [['--kernel', guests.elf.hello, '--forward', 'tcp:70000:22'], /--forward must look like/],
      [['--kernel', guests.elf.hello, '--timeout=-1'], /--timeout must be a positive/],
      [['--kernel', guests.elf.hello, '--timeout', '0'], /--timeout must be a positive/],
      [['--kernel', guests.elf.hello, '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      assert.throws(() => parseRunOptions(args), { name: 'UsageError', message }, args.join(' '));
    }
  });
});

describe('nestbox run: console escapes', () => {
  test('Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A, other bytes pass through', () => {
    const filter = new EscapeFilter();
    const bytes = (text: string) => new TextEncoder().encode(text);
    assert.deepEqual(filter.feed(bytes('ab')), { forward: bytes('ab'), actions: [] });
    assert.deepEqual(filter.feed(bytes('\x01\x01c')), { forward: bytes('\x01c'), actions: [] });
    assert.deepEqual(filter.feed(bytes('\x01h')), { forward: bytes(''), actions: ['help'] });
    // The escape may arrive alone, its command in the next chunk.
    assert.deepEqual(filter.feed(bytes('d\x01')), { forward: bytes('d'), actions: [] });
    assert.deepEqual(filter.feed(bytes('xe')), { forward: bytes('e'), actions: ['quit'] });
  });

  test('exit statuses follow the documented table', () => {
    assert.equal(exitStatusFor({ state: 'stopped', reason: 'halted' }), 0);
    assert.equal(exitStatusFor({ state: 'stopped', reason: 'powered-off' }), 0);
    assert.equal(exitStatusFor({ state: 'stopped', reason: 'reset' }), 0);
    assert.equal(exitStatusFor({ state: 'stopped', reason: 'reset-loop' }), 1);
    assert.equal(exitStatusFor({ state: 'error', reason: 'internal-error' }), 1);
  });

  test('registers print as 64-bit hex, four to a line', () => {
    const lines = formatRegisters({ rax: 0x1234n, rip: 0xffffffff81000000n } as never);
    assert.deepEqual(lines, ['   rax=0x0000000000001234    rip=0xffffffff81000000']);
  });
});

describe('nestbox run: end to end on /dev/kvm', () => {
  test('the hello guest prints on stdout and exits 0', { skip: kvmSkipReason() }, async () => {
    const run = await runNestbox(
      ['run', '--kernel', guests.elf.hello, '--append', 'console=ttyS0 greeting=yes'],
      { killAfterMs: KILL_AFTER_MS },
    );
    assert.equal(run.stderr, '');
    assert.equal(
      run.stdout,
      'Hello from a Nestbox test guest\ncmdline: console=ttyS0 greeting=yes\n',
    );
    assert.equal(run.status, 0);
  });

  test('bad arguments and files exit 2 with the reason', { skip: kvmSkipReason() }, async () => {
    const notAKernel = join(scratch, 'notes.txt');
    writeFileSync(notAKernel, 'not a kernel at all\n');
    const cases: [string[], RegExp][] = [
      [['run'], /^nestbox: --kernel PATH is required$/m],
      [['run', '--kernel', join(scratch, 'missing')], /^nestbox: kernel file not found: /m],
      [['run', '--kernel', notAKernel], /not a kernel: neither an ELF executable nor/],
      [['run', '--kernel', guests.elf.hello, '--cpus=-3'], /--cpus must be a whole number/],
    ];
    for (const [args, message] of cases) {
      const run = await runNestbox(args, { killAfterMs: KILL_AFTER_MS });
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /Run `nestbox run --help`/);
      assert.equal(run.stdout, '');
    }
  });

  test(
    'a spinning guest is stopped by --timeout with status 124',
    { skip: kvmSkipReason() },
    async () => {
      const began = performance.now();
      const run = await runNestbox(['run', '--kernel', guests.elf.spin, '--timeout', '1'], {
        killAfterMs: KILL_AFTER_MS,
      });
      assert.equal(run.stdout, 'spinning\n');
      assert.match(run.stderr, /timed out after 1 s/);
      assert.equal(run.status, 124);
      assert.ok(performance.now() - began < 30_000);
    },
  );

  test(
    'a triple fault with --no-reboot stops the VM: "guest reset" and status 0',
    { skip: kvmSkipReason() },
    async () => {
      const run = await runNestbox(['run', '--kernel', guests.elf['triple-fault'], '--no-reboot'], {
        killAfterMs: KILL_AFTER_MS,
      });
      assert.equal(run.stdout, 'about to triple fault\n');
      assert.match(run.stderr, /guest reset \(triple-fault\); not rebooting \(--no-reboot\)/);
      assert.equal(run.status, 0);
    },
  );

  test(
    'stdin reaches the guest; EOF on a pipe does not stop the VM',
    { skip: kvmSkipReason() },
    async () => {
      // The input ends (EOF) before the guest has read it all; it must still echo
      // everything and stop on its own after 'q'.
      const run = await runNestbox(['run', '--kernel', guests.elf.echo, '--timeout', '20'], {
        input: 'ping\x01\x01q',
        killAfterMs: KILL_AFTER_MS,
      });
      assert.equal(run.stdout, 'echo ready\nping\x01q\necho done\n');
      assert.equal(run.status, 0, run.stderr);
    },
  );

  test('Ctrl-A x powers the VM off and exits 0', { skip: kvmSkipReason() }, async () => {
    const { child, result } = spawnNestbox(['run', '--kernel', guests.elf.spin], {
      closeStdin: false,
      killAfterMs: KILL_AFTER_MS,
      onStdout: (stdout, process) => {
        if (stdout.includes('spinning')) process.stdin?.end('\x01x');
      },
    });
    const run = await result;
    assert.equal(child.exitCode, 0, run.stderr);
    assert.equal(run.stdout, 'spinning\n');
  });
  test(
    'the poweroff guest (ACPI S5 from the guest) prints and exits 0',
    { skip: kvmSkipReason() },
    async () => {
      const run = await runNestbox(['run', '--kernel', guests.elf.poweroff], {
        killAfterMs: KILL_AFTER_MS,
      });
      assert.equal(run.stdout, 'powering off\n');
      assert.equal(run.stderr, '');
      assert.equal(run.status, 0);
    },
  );

  test('--memory and --cpus out of range exit 2 naming the option and the range', async () => {
    const cases: [string[], string][] = [
      [['--memory', '10'], '--memory must be a whole number from 64 to 1048576, not "10"'],
      [
        ['--memory', '99999999999'],
        '--memory must be a whole number from 64 to 1048576, not "99999999999"',
      ],
      [['--cpus', '0'], '--cpus must be a whole number from 1 to 64, not "0"'],
      [['--cpus', '65'], '--cpus must be a whole number from 1 to 64, not "65"'],
      [['--cpus', '1000'], '--cpus must be a whole number from 1 to 64, not "1000"'],
    ];
    const runs = await Promise.all(
      cases.map(([args]) =>
        runNestbox(['run', '--kernel', guests.elf.hello, ...args], { killAfterMs: KILL_AFTER_MS }),
      ),
    );
    cases.forEach(([args, message], i) => {
      const run = runs[i];
      assert.ok(run);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stderr.split('\n')[0], `nestbox: ${message}`);
      assert.equal(run.stdout, '');
      assertNoStackTrace(run.stderr);
    });
  });

  test(
    'an ELF kernel for another architecture exits 2 saying which',
    { skip: kvmSkipReason() },
    async () => {
      const aarch64 = join(scratch, 'Image-arm64.elf');
      const i386 = join(scratch, 'vmlinux-i386.elf');
      writeFileSync(aarch64, elf64Header(183)); // EM_AARCH64
      writeFileSync(i386, elf32Header(3)); // EM_386
      const cases: [string, string][] = [
        [aarch64, 'invalid ELF kernel: built for AArch64 (ARM64), not x86-64'],
        [i386, 'invalid ELF kernel: built for i386 (32-bit x86), not x86-64'],
      ];
      for (const [kernel, message] of cases) {
        const run = await runNestbox(['run', '--kernel', kernel], { killAfterMs: KILL_AFTER_MS });
        assert.equal(run.status, 2, run.stderr);
        const first = run.stderr.split('\n')[0] ?? '';
        assert.ok(first.startsWith('nestbox: ') && first.endsWith(message), run.stderr);
        assert.equal(run.stdout, '');
        assertNoStackTrace(run.stderr);
      }
    },
  );

  test(
    'a VM error (KVM internal error) exits 1 with the message and registers',
    { skip: kvmSkipReason() },
    async () => {
      const run = await runNestbox(['run', '--kernel', guests.elf['jump-to-mmio']], {
        killAfterMs: KILL_AFTER_MS,
      });
      assert.equal(run.stdout, 'jumping to 0xd0000000\n');
      assert.equal(run.status, 1, run.stderr);
      const lines = run.stderr.trimEnd().split('\n');
      assert.match(
        lines[0] ?? '',
        /^nestbox run: VM error: vCPU 0: KVM internal error: the instruction emulator cannot execute .* at rip 0xd0000000$/,
      );
      assert.match(run.stderr, / {4}rip=0x00000000d0000000 /);
      assert.equal(lines.length, 1 + 7, 'the message, then 25 registers four to a line');
      assertNoStackTrace(run.stderr);
    },
  );

  test(
    'NESTBOX_KVM_DEVICE: another path to the KVM device boots the guest',
    { skip: kvmSkipReason() },
    async () => {
      const alias = join(scratch, 'kvm-alias');
      symlinkSync('/dev/kvm', alias);
      const run = await runNestbox(['run', '--kernel', guests.elf.hello], {
        env: { NESTBOX_KVM_DEVICE: alias },
        killAfterMs: KILL_AFTER_MS,
      });
      assert.equal(run.stdout, 'Hello from a Nestbox test guest\n');
      assert.equal(run.stderr, '');
      assert.equal(run.status, 0);
    },
  );

  test("NESTBOX_KVM_DEVICE naming a missing node exits 2 with the probe's message", async () => {
    const device = join(scratch, 'no-kvm-here');
    const run = await runNestbox(['run', '--kernel', guests.elf.hello], {
      env: { NESTBOX_KVM_DEVICE: device },
      killAfterMs: KILL_AFTER_MS,
    });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(
      run.stderr.split('\n')[0],
      `nestbox: ${device} not found — enable virtualization (VT-x/AMD-V) in the firmware and load kvm_intel or kvm_amd`,
    );
    assert.equal(run.stdout, '');
    assertNoStackTrace(run.stderr);
  });

  test('NESTBOX_KVM_DEVICE naming a node the user may not open exits 2: "kvm group"', async () => {
    // A file nobody may open. Root bypasses file permissions, so as root the
    // CLI runs as the unprivileged "nobody" (which can read the checkout: its
    // directories and files are world-readable; tsx caches in its own /tmp dir).
    const dir = mkdtempSync(join(tmpdir(), 'nestbox-run-perm-'));
    try {
      chmodSync(dir, 0o755);
      const device = join(dir, 'kvm');
      writeFileSync(device, '');
      chmodSync(device, 0o000);
      const run = await runNestbox(['run', '--kernel', guests.elf.hello], {
        env: { NESTBOX_KVM_DEVICE: device },
        ...(process.getuid?.() === 0 ? { user: NOBODY } : {}),
        killAfterMs: KILL_AFTER_MS,
      });
      assert.equal(run.status, 2, run.stderr);
      assert.equal(
        run.stderr.split('\n')[0],
        `nestbox: ${device}: permission denied — add your user to the kvm group (sudo usermod -aG kvm $USER) and log in again`,
      );
      assert.equal(run.stdout, '');
      assertNoStackTrace(run.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
