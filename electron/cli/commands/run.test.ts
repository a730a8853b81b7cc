/**
 * `nestbox run` end to end: the CLI is spawned as a user would run it, booting
 * the test guests on the real /dev/kvm (these tests fail, never skip, without
 * it), plus unit tests of its argument parsing and console escape handling.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuests, type GuestImages } from '../../../native/test/guests/build-guests.ts';
import { runNestbox, spawnNestbox } from '../../../native/test/guests/run-nestbox.ts';
import { EscapeFilter, exitStatusFor, formatRegisters, parseRunOptions } from './run.ts';

/** Generous: CPL-0 guest code is emulated on the CI machines. */
const KILL_AFTER_MS = 60_000;

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
      ]),
      {
        kernelPath: guests.elf.hello,
        initrdPath: guests.flat.hello,
        cmdline: 'console=ttyS0 quiet',
        cpus: 4,
        memoryMiB: 512,
        timeoutSeconds: 2.5,
        noReboot: true,
      },
    );
    assert.equal(parseRunOptions(['--help']), 'help');
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
  test('the hello guest prints on stdout and exits 0', async () => {
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

  test('bad arguments and files exit 2 with the reason', async () => {
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

  test('a spinning guest is stopped by --timeout with status 124', async () => {
    const began = performance.now();
    const run = await runNestbox(['run', '--kernel', guests.elf.spin, '--timeout', '1'], {
      killAfterMs: KILL_AFTER_MS,
    });
    assert.equal(run.stdout, 'spinning\n');
    assert.match(run.stderr, /timed out after 1 s/);
    assert.equal(run.status, 124);
    assert.ok(performance.now() - began < 30_000);
  });

  test('a triple fault with --no-reboot stops the VM: "guest reset" and status 0', async () => {
    const run = await runNestbox(['run', '--kernel', guests.elf['triple-fault'], '--no-reboot'], {
      killAfterMs: KILL_AFTER_MS,
    });
    assert.equal(run.stdout, 'about to triple fault\n');
    assert.match(run.stderr, /guest reset \(triple-fault\); not rebooting \(--no-reboot\)/);
    assert.equal(run.status, 0);
  });

  test('stdin reaches the guest; EOF on a pipe does not stop the VM', async () => {
    // The input ends (EOF) before the guest has read it all; it must still echo
    // everything and stop on its own after 'q'.
    const run = await runNestbox(['run', '--kernel', guests.elf.echo, '--timeout', '20'], {
      input: 'ping\x01\x01q',
      killAfterMs: KILL_AFTER_MS,
    });
    assert.equal(run.stdout, 'echo ready\nping\x01q\necho done\n');
    assert.equal(run.status, 0, run.stderr);
  });

  test('Ctrl-A x powers the VM off and exits 0', async () => {
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
});
