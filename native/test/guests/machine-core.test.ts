/**
 * The VMM core on real /dev/kvm, through the addon: serial input, a timer
 * interrupt through the in-kernel PIT/IOAPIC/LAPIC, SMP start-up of every AP,
 * ACPI power-off, the ACPI power button handled by the guest, guest resets
 * (triple fault, keyboard controller) with and without reboot, host reset,
 * pause/resume losing no output, and a KVM internal error reported with the
 * registers. Test guests
 * are built by build-guests.ts. Without a usable /dev/kvm these tests fail.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { addonWithKvm } from './kvm-addon.ts';
import { MachineSession } from '../../../electron/services/native/machine-session.ts';
import type {
  MachineConfig,
  MachineEvent,
  NativeAddon,
  NativeError,
  ResetEvent,
} from '../../../electron/services/native/native-addon.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

/** Generous: CPL-0 guest code is emulated on the CI machines (~0.6 µs per instruction). */
const GUEST_TIMEOUT_MS = 60_000;

let addon: NativeAddon;
let guests: GuestImages;

before(() => {
  addon = addonWithKvm();
  guests = buildGuests();
});

interface Recorded {
  session: MachineSession;
  serial: () => string;
  events: MachineEvent[];
  /** Resolves when the serial output includes `text` (`times` times). */
  waitForSerial: (text: string, times?: number) => Promise<void>;
}

function record(config: MachineConfig): Recorded {
  const session = new MachineSession(addon, config);
  const decoder = new TextDecoder();
  let serial = '';
  const events: MachineEvent[] = [];
  const waiters: { text: string; times: number; resolve: () => void }[] = [];
  const occurrences = (text: string) => serial.split(text).length - 1;
  const check = () => {
    for (const waiter of [...waiters]) {
      if (occurrences(waiter.text) >= waiter.times) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  for (const type of ['serial', 'state', 'reset', 'error'] as const) {
    session.on(type, (event: MachineEvent) => {
      if (event.type === 'serial') {
        serial += decoder.decode(event.data, { stream: true });
        check();
      } else {
        events.push(event);
      }
    });
  }
  return {
    session,
    serial: () => serial,
    events,
    waitForSerial: (text, times = 1) =>
      new Promise((resolve) => {
        waiters.push({ text, times, resolve });
        check();
      }),
  };
}

/** Rejects when `promise` takes longer than the guest timeout, with what the guest said. */
async function within<T>(promise: Promise<T>, what: string, run: Recorded): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: timed out; serial so far: ${JSON.stringify(run.serial())}`)),
      GUEST_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    if (run.session.state === 'stopped' || run.session.state === 'error') {
      run.session.close();
    }
  }
}

function resets(run: Recorded): Omit<ResetEvent, 'type'>[] {
  return run.events
    .filter((event): event is ResetEvent => event.type === 'reset')
    .map(({ cause, reboot }) => ({ cause, reboot }));
}

describe('serial console', { skip: kvmSkipReason() }, () => {
  test('input sent with sendSerialInput reaches the guest, which echoes it', async () => {
    const run = record({ kernelPath: guests.elf.echo, memoryMiB: 64, cpus: 1 });
    run.session.start();
    await within(run.waitForSerial('echo ready\n'), 'echo banner', run);
    assert.equal(run.session.sendSerialInput('hello, guest q'), 14);
    const ending = await within(run.session.ended, 'echo guest', run);
    assert.equal(run.serial(), 'echo ready\nhello, guest q\necho done\n');
    assert.deepEqual(ending, { state: 'stopped', reason: 'halted' });
    assert.throws(() => run.session.sendSerialInput(42 as never as Uint8Array), TypeError);
  });
});

describe('interrupts', { skip: kvmSkipReason() }, () => {
  test('PIT ticks reach the guest through the IOAPIC (IRQ 0 → pin 2) and its LAPIC', async () => {
    const run = record({ kernelPath: guests.elf.timer, memoryMiB: 64, cpus: 1 });
    run.session.start();
    const ending = await within(run.session.ended, 'timer guest', run);
    assert.equal(run.serial(), 'waiting for timer ticks\ntimer ticks: 10\n');
    assert.deepEqual(ending, { state: 'stopped', reason: 'halted' });
  });
});

describe('SMP', { skip: kvmSkipReason() }, () => {
  test('every AP of a 4-vCPU machine starts on INIT/SIPI and reports its APIC ID', async () => {
    const run = record({ kernelPath: guests.elf.smp, memoryMiB: 64, cpus: 4, cmdline: 'cpus=4' });
    run.session.start();
    const ending = await within(run.session.ended, 'smp guest', run);
    const lines = run.serial().trimEnd().split('\n');
    assert.equal(lines[0], 'BSP 0 up, starting 3 APs');
    assert.deepEqual(lines.slice(1, 4).sort(), ['AP 1 up', 'AP 2 up', 'AP 3 up']);
    assert.equal(lines[4], 'all 4 CPUs up');
    // The BSP and every AP end with cli; hlt: the machine halts.
    assert.deepEqual(ending, { state: 'stopped', reason: 'halted' });
  });

  test('64 vCPUs are accepted, 65 are not', () => {
    const machine = new addon.Machine(
      { kernelPath: guests.elf.hello, memoryMiB: 64, cpus: 64 },
      () => {},
    );
    machine.close();
    assert.throws(
      () => new addon.Machine({ kernelPath: guests.elf.hello, memoryMiB: 64, cpus: 65 }, () => {}),
      (error: NativeError) => error.code === 'INVALID_CONFIG' && /cpus: 65/.test(error.message),
    );
  });

  test('64 GiB of guest RAM is accepted (allocated lazily)', async () => {
    const run = record({ kernelPath: guests.elf.hello, memoryMiB: 64 * 1024, cpus: 2 });
    run.session.start();
    const ending = await within(run.session.ended, 'hello with 64 GiB', run);
    assert.equal(run.serial(), 'Hello from a Nestbox test guest\n');
    assert.deepEqual(ending, { state: 'stopped', reason: 'halted' });
  });
});

describe('power and reset', { skip: kvmSkipReason() }, () => {
  test('ACPI S5 from the guest stops the machine with reason powered-off', async () => {
    const run = record({ kernelPath: guests.elf.poweroff, memoryMiB: 64, cpus: 1 });
    run.session.start();
    const ending = await within(run.session.ended, 'poweroff guest', run);
    assert.equal(run.serial(), 'powering off\n');
    assert.deepEqual(ending, { state: 'stopped', reason: 'powered-off' });
  });

  test('the power button raises the SCI; the guest acknowledges it and enters S5', async () => {
    const run = record({ kernelPath: guests.elf['acpi-button'], memoryMiB: 64, cpus: 1 });
    run.session.start();
    await within(run.waitForSerial('waiting for the power button\n'), 'acpi-button banner', run);
    // What the guest found in the FADT and MADT, and so programmed.
    assert.match(run.serial(), /^SCI: GSI 9, level, active high; PM1a at 0x600\n/);
    assert.equal(run.session.state, 'running');
    run.session.powerButton();
    const ending = await within(run.session.ended, 'acpi-button guest', run);
    assert.ok(
      run.serial().endsWith('waiting for the power button\npower button pressed, shutting down\n'),
      run.serial(),
    );
    assert.deepEqual(ending, { state: 'stopped', reason: 'powered-off' });
    assert.equal(run.events.filter((event) => event.type === 'error').length, 0);
  });

  test('a triple fault reboots the guest; a reset loop then stops it with an error', async () => {
    const banner = 'about to triple fault\n';
    const run = record({ kernelPath: guests.elf['triple-fault'], memoryMiB: 64, cpus: 2 });
    run.session.start();
    const ending = await within(run.session.ended, 'triple-fault guest', run);
    assert.equal(run.serial(), banner.repeat(3));
    assert.deepEqual(resets(run), [
      { cause: 'triple-fault', reboot: true },
      { cause: 'triple-fault', reboot: true },
    ]);
    assert.equal(ending.state, 'error');
    assert.equal(ending.reason, 'reset-loop');
    assert.match(ending.error?.message ?? '', /triple-faulted 3 times/);
    assert.equal(typeof ending.error?.registers?.rip, 'bigint');
    assert.equal(run.session.stats().resets, 2);
  });

  test('a triple fault with rebootOnReset false stops with reason reset', async () => {
    const run = record({
      kernelPath: guests.elf['triple-fault'],
      memoryMiB: 64,
      cpus: 1,
      rebootOnReset: false,
    });
    run.session.start();
    const ending = await within(run.session.ended, 'triple-fault guest', run);
    assert.equal(run.serial(), 'about to triple fault\n');
    assert.deepEqual(resets(run), [{ cause: 'triple-fault', reboot: false }]);
    assert.deepEqual(ending, { state: 'stopped', reason: 'reset' });
  });

  test('0xFE to the keyboard controller resets: the guest boots again', async () => {
    const banner = 'resetting via the keyboard controller\n';
    const run = record({ kernelPath: guests.elf['kbd-reset'], memoryMiB: 64, cpus: 1 });
    run.session.start();
    await within(run.waitForSerial(banner, 2), 'second boot', run);
    const ending = await within(run.session.powerOff(), 'power off', run);
    assert.ok(run.serial().startsWith(banner + banner), run.serial());
    assert.ok(!run.serial().includes('still here'), 'the reset took effect at once');
    assert.deepEqual(resets(run).slice(0, 1), [{ cause: 'keyboard-controller', reboot: true }]);
    assert.deepEqual(ending, { state: 'stopped', reason: 'powered-off' });
  });

  test('0xFE to the keyboard controller with rebootOnReset false stops with reason reset', async () => {
    const run = record({
      kernelPath: guests.elf['kbd-reset'],
      memoryMiB: 64,
      cpus: 1,
      rebootOnReset: false,
    });
    run.session.start();
    const ending = await within(run.session.ended, 'kbd-reset guest', run);
    assert.equal(run.serial(), 'resetting via the keyboard controller\n');
    assert.deepEqual(resets(run), [{ cause: 'keyboard-controller', reboot: false }]);
    assert.deepEqual(ending, { state: 'stopped', reason: 'reset' });
  });

  test('a host reset reboots a running guest', async () => {
    const run = record({ kernelPath: guests.elf.spin, memoryMiB: 64, cpus: 2 });
    run.session.start();
    await within(run.waitForSerial('spinning\n'), 'first boot', run);
    run.session.reset();
    await within(run.waitForSerial('spinning\n', 2), 'second boot', run);
    assert.deepEqual(resets(run), [{ cause: 'host', reboot: true }]);
    assert.equal(run.session.state, 'running');
    const ending = await within(run.session.powerOff(), 'power off', run);
    assert.deepEqual(ending, { state: 'stopped', reason: 'powered-off' });
  });

  test('the power button and lifecycle errors', async () => {
    const run = record({ kernelPath: guests.elf.spin, memoryMiB: 64, cpus: 1 });
    await assert.rejects(
      run.session.pause(),
      (error: NativeError) => error.code === 'INVALID_STATE' && /created/.test(error.message),
    );
    assert.throws(
      () => run.session.resume(),
      (error: NativeError) => error.code === 'INVALID_STATE',
    );
    run.session.start();
    await within(run.waitForSerial('spinning\n'), 'spin guest', run);
    run.session.powerButton(); // no ACPI OS listening: nothing happens
    assert.equal(run.session.state, 'running');
    const ending = await within(run.session.powerOff(), 'power off', run);
    assert.deepEqual(ending, { state: 'stopped', reason: 'powered-off' });
    assert.throws(
      () => run.session.reset(),
      (error: NativeError) => error.code === 'INVALID_STATE',
    );
  });
});

describe('pause and resume', { skip: kvmSkipReason() }, () => {
  test('pausing mid-stream stops output at once and loses nothing', async () => {
    const count = 4000;
    const run = record({
      kernelPath: guests.elf.counter,
      memoryMiB: 64,
      cpus: 2,
      cmdline: `count=${count}`,
    });
    run.session.start();
    await within(run.waitForSerial('\n200\n'), 'counter stream', run);
    const latencyMs = await within(run.session.pause(), 'pause', run);
    assert.equal(run.session.state, 'paused');
    const atPause = run.serial().length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const whilePaused = run.serial().length;
    run.session.resume();
    assert.equal(run.session.state, 'running');
    const ending = await within(run.session.ended, 'counter guest', run);
    console.log(`# pause latency: ${latencyMs.toFixed(2)} ms (2 vCPUs)`);

    assert.equal(whilePaused, atPause, 'no output while paused');
    assert.ok(run.serial().length > whilePaused, 'output continued after resume');
    const expected = Array.from({ length: count }, (_, i) => `${i}\n`).join('') + 'end\n';
    assert.equal(run.serial(), expected);
    assert.deepEqual(ending, { state: 'stopped', reason: 'halted' });
    const states = run.events.flatMap((event) => (event.type === 'state' ? [event.state] : []));
    assert.deepEqual(states, ['running', 'paused', 'running', 'stopped']);
  });

  test('a paused machine powers off, and pausing twice is harmless', async () => {
    const run = record({ kernelPath: guests.elf.spin, memoryMiB: 64, cpus: 4 });
    run.session.start();
    await within(run.waitForSerial('spinning\n'), 'spin guest', run);
    const first = run.session.pause();
    const second = run.session.pause();
    await within(Promise.all([first, second]), 'pause', run);
    assert.equal(run.session.state, 'paused');
    const ending = await within(run.session.powerOff(), 'power off', run);
    assert.deepEqual(ending, { state: 'stopped', reason: 'powered-off' });
  });
});

describe('VM errors', { skip: kvmSkipReason() }, () => {
  test('executing from MMIO: KVM_EXIT_INTERNAL_ERROR becomes an error event with registers', async () => {
    // Portable: neither VT-x nor AMD-V can fetch instructions from an address
    // without memory, and KVM's emulator then gives up (suberror 1) at CPL 0.
    const run = record({ kernelPath: guests.elf['jump-to-mmio'], memoryMiB: 64, cpus: 1 });
    run.session.start();
    const ending = await within(run.session.ended, 'jump-to-mmio guest', run);
    assert.equal(run.serial(), 'jumping to 0xd0000000\n');
    assert.equal(ending.state, 'error');
    assert.equal(ending.reason, 'internal-error');
    assert.match(
      ending.error?.message ?? '',
      /^vCPU 0: KVM internal error: the instruction emulator cannot execute the guest's instruction.* at rip 0xd0000000$/,
    );
    const registers = ending.error?.registers;
    assert.ok(registers, 'the registers come with the error');
    assert.equal(registers.rip, 0xd0000000n);
    assert.equal(registers.cs, 0x10n, 'the boot code selector');
    assert.equal(registers.cr0 & 0x80000001n, 0x80000001n, 'protected mode with paging');
    assert.equal(registers.efer & 0x400n, 0x400n, 'long mode active');
    // The error event comes first, then the state change it explains.
    const kinds = run.events.map((event) =>
      event.type === 'state' ? `state:${event.state}` : event.type,
    );
    assert.deepEqual(kinds, ['state:running', 'error', 'state:error']);
  });
});

describe('KVM device', { skip: kvmSkipReason() }, () => {
  test('kvmDevicePath: the machine opens the node it is given', async () => {
    const missing = '/nonexistent/nestbox-kvm';
    assert.throws(
      () =>
        new addon.Machine(
          { kernelPath: guests.elf.hello, memoryMiB: 64, cpus: 1, kvmDevicePath: missing },
          () => {},
        ),
      (error: NativeError) =>
        error.code === 'KVM_UNAVAILABLE' &&
        error.kvmProblem === 'missing' &&
        error.message.includes(missing),
    );
    assert.throws(
      () =>
        new addon.Machine(
          { kernelPath: guests.elf.hello, memoryMiB: 64, cpus: 1, kvmDevicePath: '' },
          () => {},
        ),
      { name: 'TypeError', message: /kvmDevicePath must be a non-empty string/ },
    );
    const run = record({
      kernelPath: guests.elf.hello,
      memoryMiB: 64,
      cpus: 1,
      kvmDevicePath: '/dev/kvm',
    });
    run.session.start();
    const ending = await within(run.session.ended, 'hello on /dev/kvm', run);
    assert.deepEqual(ending, { state: 'stopped', reason: 'halted' });
  });
});
