/**
 * End-to-end tests of the native core on real /dev/kvm: test guests built at
 * test time boot as flat binary, ELF and bzImage, talk over COM1 and stop.
 * Skipped where the machine has no KVM device node (kvm-for-tests.ts); where the node exists
 * but cannot be used, these tests fail and say so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { locateNativeAddon } from '../../../electron/services/native/load-addon.ts';
import type {
  ErrorEvent,
  MachineConfig,
  MachineStats,
  NativeAddon,
  NativeError,
  ResetEvent,
  StateEvent,
} from '../../../electron/services/native/native-addon.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

const HELLO = 'Hello from a Nestbox test guest\n';
/** Generous: CPL-0 guest code is emulated on the CI machines (~0.6 µs per instruction). */
const GUEST_TIMEOUT_MS = 60_000;

interface GuestRun {
  serial: string;
  serialEvents: number;
  states: StateEvent[];
  errors: ErrorEvent[];
  finalState: string;
  stats: MachineStats;
}

let addon: NativeAddon;
let addonPath: string;
let guests: GuestImages;
let scratch: string;

/** Fails when KVM is unusable, with the probe's own explanation. */
function requireKvm(): void {
  const status = addon.probeKvm();
  if (!status.ok) {
    assert.fail(
      `/dev/kvm is ${status.problem === 'missing' ? 'missing' : 'not usable'} on this machine ` +
        `(${status.problem}): ${status.message}. These tests need KVM.`,
    );
  }
}

/**
 * Runs a guest until it stops by itself (or `whenSerial` sees its text and
 * powers it off), collecting everything it reported.
 */
function runGuest(
  config: MachineConfig,
  options: { powerOffWhenSerialIncludes?: string } = {},
): Promise<GuestRun> {
  return new Promise((resolve, reject) => {
    const decoder = new TextDecoder();
    let serial = '';
    let serialEvents = 0;
    const states: StateEvent[] = [];
    const resets: ResetEvent[] = [];
    const errors: ErrorEvent[] = [];
    let poweringOff = false;

    const machine = new addon.Machine(config, (event) => {
      if (event.type === 'serial') {
        serialEvents += 1;
        serial += decoder.decode(event.data, { stream: true });
        const trigger = options.powerOffWhenSerialIncludes;
        if (trigger !== undefined && !poweringOff && serial.includes(trigger)) {
          poweringOff = true;
          machine.powerOff();
        }
      } else if (event.type === 'error') {
        errors.push(event);
      } else if (event.type === 'reset') {
        resets.push(event);
      } else if (event.type === 'state') {
        states.push(event);
        if (event.state === 'stopped' || event.state === 'error') {
          clearTimeout(timer);
          const finalState = machine.state;
          const stats = machine.stats();
          machine.close();
          resolve({ serial, serialEvents, states, errors, finalState, stats });
        }
      }
    });
    const timer = setTimeout(() => {
      machine.close();
      reject(
        new Error(
          `guest ${config.kernelPath} did not stop within ${GUEST_TIMEOUT_MS} ms; ` +
            `serial so far: ${JSON.stringify(serial)}`,
        ),
      );
    }, GUEST_TIMEOUT_MS);
    machine.start();
  });
}

function assertHaltedCleanly(run: GuestRun): void {
  assert.deepEqual(run.errors, []);
  assert.deepEqual(
    run.states.map((s) => [s.state, s.reason]),
    [
      ['running', undefined],
      ['stopped', 'halted'],
    ],
  );
  assert.equal(run.finalState, 'stopped');
}

before(() => {
  ({ addon, path: addonPath } = locateNativeAddon());
  guests = buildGuests();
  scratch = mkdtempSync(join(tmpdir(), 'nestbox-guest-test-'));
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('KVM on this machine', { skip: kvmSkipReason() }, () => {
  test('probeKvm reports /dev/kvm usable with API version 12', () => {
    const status = addon.probeKvm();
    assert.deepEqual(
      status,
      { ok: true, devicePath: '/dev/kvm', apiVersion: 12 },
      `probeKvm(): ${JSON.stringify(status)} — these tests need a usable /dev/kvm`,
    );
  });
});

describe('hello guest', { skip: kvmSkipReason() }, () => {
  test('boots as a flat binary, prints its greeting on COM1 and halts', async () => {
    requireKvm();
    const run = await runGuest({
      kernelPath: guests.flat.hello,
      kernelFormat: 'flat',
      memoryMiB: 64,
      cpus: 1,
    });
    assert.equal(run.serial, HELLO);
    assertHaltedCleanly(run);
    assert.equal(run.stats.serialBytesOut, HELLO.length);
    // Serial bytes are batched, not one event per byte.
    assert.ok(run.serialEvents < HELLO.length, `${run.serialEvents} serial events`);
  });

  test('boots as an ELF executable (detected automatically)', async () => {
    requireKvm();
    const run = await runGuest({ kernelPath: guests.elf.hello, memoryMiB: 64, cpus: 1 });
    assert.equal(run.serial, HELLO);
    assertHaltedCleanly(run);
  });

  test('boots as a bzImage through the Linux boot protocol and reads its command line', async () => {
    requireKvm();
    const cmdline = 'console=ttyS0 nestbox.test=bzimage quiet';
    const run = await runGuest({
      kernelPath: guests.helloBzImage,
      kernelFormat: 'auto',
      cmdline,
      memoryMiB: 128,
      cpus: 1,
    });
    assert.equal(run.serial, `${HELLO}cmdline: ${cmdline}\n`);
    assertHaltedCleanly(run);
  });
});

describe('machine behaviour', { skip: kvmSkipReason() }, () => {
  test('unclaimed ports read as all ones and are counted', async () => {
    requireKvm();
    const run = await runGuest({
      kernelPath: guests.flat['port-probe'],
      kernelFormat: 'flat',
      memoryMiB: 64,
      cpus: 1,
    });
    assert.equal(run.serial, 'port 0x510 reads 0xff\n');
    assertHaltedCleanly(run);
    assert.equal(run.stats.unknownPortReads, 1);
    assert.equal(run.stats.unknownPortWrites, 0);
  });

  test('a triple fault with rebootOnReset false stops the machine with reason reset', async () => {
    requireKvm();
    const run = await runGuest({
      kernelPath: guests.elf['triple-fault'],
      memoryMiB: 64,
      cpus: 1,
      rebootOnReset: false,
    });
    assert.equal(run.serial, 'about to triple fault\n');
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.states.at(-1), { type: 'state', state: 'stopped', reason: 'reset' });
  });

  test('powerOff stops a guest spinning with interrupts off', async () => {
    requireKvm();
    const run = await runGuest(
      { kernelPath: guests.flat.spin, kernelFormat: 'flat', memoryMiB: 64, cpus: 1 },
      { powerOffWhenSerialIncludes: 'spinning\n' },
    );
    assert.equal(run.serial, 'spinning\n');
    assert.deepEqual(run.states.at(-1), { type: 'state', state: 'stopped', reason: 'powered-off' });
  });

  test('lifecycle: start twice is refused; close is idempotent; a never-started machine closes', () => {
    requireKvm();
    const events: string[] = [];
    const machine = new addon.Machine(
      { kernelPath: guests.flat.spin, kernelFormat: 'flat', memoryMiB: 64, cpus: 1 },
      (event) => events.push(event.type),
    );
    assert.equal(machine.state, 'created');
    machine.start();
    assert.equal(machine.state, 'running');
    assert.throws(
      () => machine.start(),
      (error: NativeError) => error.code === 'INVALID_STATE' && /running/.test(error.message),
    );
    machine.close();
    machine.close();
    assert.equal(machine.state, 'stopped');
    assert.throws(() => machine.start(), /closed/);

    const unused = new addon.Machine(
      { kernelPath: guests.flat.hello, kernelFormat: 'flat', memoryMiB: 64, cpus: 1 },
      () => {},
    );
    unused.close();
    assert.equal(unused.state, 'stopped');
  });
});

describe('configuration errors', { skip: kvmSkipReason() }, () => {
  const base = { memoryMiB: 64, cpus: 1 };

  test('a missing kernel file', () => {
    requireKvm();
    const path = join(scratch, 'no-such-vmlinuz');
    assert.throws(
      () => new addon.Machine({ ...base, kernelPath: path }, () => {}),
      (error: NativeError) => {
        assert.equal(error.code, 'KERNEL_NOT_FOUND');
        assert.equal(error.message, `kernel file not found: ${path}`);
        return true;
      },
    );
  });

  test('a file that is not a kernel', () => {
    requireKvm();
    const path = join(scratch, 'notes.txt');
    writeFileSync(path, 'These are my notes, not a kernel.\n'.repeat(100));
    assert.throws(
      () => new addon.Machine({ ...base, kernelPath: path }, () => {}),
      (error: NativeError) => {
        assert.equal(error.code, 'NOT_A_KERNEL');
        assert.ok(error.message.startsWith(`${path}: not a kernel`), error.message);
        return true;
      },
    );
    assert.throws(
      () => new addon.Machine({ ...base, kernelPath: path, kernelFormat: 'bzimage' }, () => {}),
      (error: NativeError) => error.code === 'NOT_A_KERNEL' && /HdrS|0xAA55/.test(error.message),
    );
  });

  test('bad sizes and types are refused with the field named', () => {
    requireKvm();
    const kernelPath = guests.elf.hello;
    assert.throws(
      () => new addon.Machine({ kernelPath, memoryMiB: 4, cpus: 1 }, () => {}),
      (error: NativeError) => error.code === 'INVALID_CONFIG' && /memoryMiB/.test(error.message),
    );
    assert.throws(
      () => new addon.Machine({ kernelPath, memoryMiB: 1 << 30, cpus: 1 }, () => {}),
      (error: NativeError) => error.code === 'INVALID_CONFIG' && /memoryMiB/.test(error.message),
    );
    assert.throws(
      () => new addon.Machine({ kernelPath, memoryMiB: 64, cpus: 0 }, () => {}),
      (error: NativeError) => error.code === 'INVALID_CONFIG' && /cpus/.test(error.message),
    );
    assert.throws(() => new addon.Machine({ kernelPath, memoryMiB: 64.5, cpus: 1 }, () => {}), {
      name: 'TypeError',
      message: /memoryMiB must be a whole number/,
    });
    assert.throws(
      () =>
        new addon.Machine(
          { kernelPath, memoryMiB: 64, cpus: 1, kernelFormat: 'zimage' as 'auto' },
          () => {},
        ),
      { name: 'TypeError', message: /kernelFormat/ },
    );
    assert.throws(
      () => new addon.Machine({ kernelPath, memoryMiB: 64, cpus: 1 }, undefined as never),
      { name: 'TypeError', message: /onEvent must be a function/ },
    );
  });

  test('a command line longer than the kernel accepts', () => {
    requireKvm();
    assert.throws(
      () =>
        new addon.Machine(
          { kernelPath: guests.helloBzImage, memoryMiB: 64, cpus: 1, cmdline: 'x'.repeat(3000) },
          () => {},
        ),
      (error: NativeError) => error.code === 'INVALID_CONFIG' && /at most 2047/.test(error.message),
    );
  });
});

describe('probeKvm failures', () => {
  test('a nonexistent device path is "missing"', () => {
    const path = join(scratch, 'no-kvm-here');
    assert.deepEqual(addon.probeKvm(path), {
      ok: false,
      devicePath: path,
      problem: 'missing',
      message: `${path} not found — enable virtualization (VT-x/AMD-V) in the firmware and load kvm_intel or kvm_amd`,
    });
  });

  test('a device the user may not open is "permission"', () => {
    // A file nobody may open. Root bypasses file permissions, so when running
    // as root the probe runs in a child process as the unprivileged "nobody".
    const dir = mkdtempSync(join(tmpdir(), 'nestbox-perm-'));
    chmodSync(dir, 0o755);
    const device = join(dir, 'kvm');
    writeFileSync(device, '');
    chmodSync(device, 0o000);
    try {
      let status: unknown;
      if (process.getuid?.() === 0) {
        const child = spawnSync(
          process.execPath,
          [
            '-e',
            `process.stdout.write(JSON.stringify(require(${JSON.stringify(addonPath)}).probeKvm(${JSON.stringify(device)})))`,
          ],
          { uid: 65534, gid: 65534, encoding: 'utf8' },
        );
        assert.equal(child.status, 0, `child probe failed: ${child.stderr}`);
        status = JSON.parse(child.stdout);
      } else {
        status = addon.probeKvm(device);
      }
      assert.deepEqual(status, {
        ok: false,
        devicePath: device,
        problem: 'permission',
        message: `${device}: permission denied — add your user to the kvm group (sudo usermod -aG kvm $USER) and log in again`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
