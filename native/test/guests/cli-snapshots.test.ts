/**
 * `nestbox snapshot`, `suspend` and `resume` on a running VM (real /dev/kvm; skipped where the
 * machine has no KVM device node, see kvm-for-tests.ts): the CLI runs in this process (runCli with the real commands) on a
 * library in a temporary NESTBOX_HOME, and the VM runs in its own VM host as `nestbox start`
 * makes it. The guest is snapshot-counter (snapshot-counter.c): it prints "count <n>" on COM1
 * about four times a second and writes n to sector 0 of its disk, so where the machine is
 * can be read off its serial output, which this test follows through the VM host (with the
 * host's history, so nothing printed before it subscribes is missed).
 *
 * To make every expectation exact, snapshots are taken of a paused VM whose last output is a
 * whole "count N" line: the guest is then waiting before count N + 1, so a revert to that
 * snapshot (or resuming its suspended state) prints "count N+1" first.
 *
 *   A (paused at N_A) ─ B (paused at N_B)      revert A: first count N_A + 1
 *                     └ C (taken running)      revert B: first count N_B + 1
 *   suspend (paused at S) → "suspended" → resume: first count S + 1
 *   stop; revert A while off → "suspended" → start: first count N_A + 1
 */
import { runNestbox, type CliResult } from '../../../electron/cli/testing/run-nestbox.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NativeAddon } from '../../../electron/services/native/native-addon.ts';
import { nativeDiskLayerOps } from '../../../electron/services/snapshots/disk-layer-ops.ts';
import {
  SnapshotStore,
  type SnapshotTree,
} from '../../../electron/services/snapshots/snapshot-store.ts';
import {
  isHostProcessAlive,
  readHostRecord,
} from '../../../electron/services/vm-host/runtime-files.ts';
import type { VmHostClient } from '../../../electron/services/vm-host/vm-host-client.ts';
import { findVm, openVmServices } from '../../../electron/services/vm-host/vm-services.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { addonWithKvm } from './kvm-addon.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

const VM = 'counter';
/** Generous: the guest's set-up runs at CPL 0, which the CI machines emulate. */
const BOOT_TIMEOUT_MS = 60_000;
/** Counts come about four a second; this allows for a slow, busy CI machine. */
const COUNT_TIMEOUT_MS = 30_000;
/** After a pause: how long output the guest wrote before it may still take to arrive. */
const SERIAL_SETTLE_MS = 400;
const POLL_MS = 25;

let addon: NativeAddon;
let guests: GuestImages;
let home: string;
let env: NodeJS.ProcessEnv;
let vmFolder: string;
let watcher: SerialWatcher | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `nestbox ARGS…` as the executable does, with its output captured. */
async function nestbox(args: string[]): Promise<CliResult> {
  return runNestbox(env, args);
}

async function ok(args: string[]): Promise<CliResult> {
  const run = await nestbox(args);
  assert.equal(
    run.status,
    0,
    `nestbox ${args.join(' ')} exited ${run.status}: ${run.stderr}` +
      (watcher ? `\nserial so far:\n${watcher.tail()}` : ''),
  );
  return run;
}

async function json<T>(args: string[]): Promise<T> {
  const run = await ok([...args, '--json']);
  return JSON.parse(run.stdout) as T;
}

async function stateOf(name: string): Promise<string | undefined> {
  const listed = await json<{ vms: { name: string; state: string }[] }>(['list']);
  return listed.vms.find((vm) => vm.name === name)?.state;
}

/**
 * Waits until `nestbox list` shows the VM in `state` and the VM host that ran it has exited
 * (a stop or suspend returns once the VM is off or saved; its host may take a moment more to
 * let go of the VM's files and lock).
 */
async function waitUntilEnded(host: number | undefined, state: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  let seen = await stateOf(VM);
  while (seen !== state || (host !== undefined && isHostProcessAlive(host))) {
    if (performance.now() > deadline) {
      assert.fail(
        `"${VM}" is ${seen} 15 s later, not ${state}` +
          (host !== undefined && isHostProcessAlive(host)
            ? `; its VM host ${host} still runs`
            : ''),
      );
    }
    await sleep(100);
    seen = await stateOf(VM);
  }
}

/** The running VM host's pid. */
async function hostPid(): Promise<number> {
  const host = await readHostRecord(vmFolder);
  assert.ok(host.kind === 'ok', `a VM host record for "${VM}": ${host.kind}`);
  return host.record.pid;
}

const tree = () => json<SnapshotTree>(['snapshot', 'list', VM]);

// ---- the guest's serial output ----

/** Every "count <n>" line in `text` with where it ends. */
function countsIn(text: string): { n: number; end: number }[] {
  return [...text.matchAll(/count (\d+)\n/g)].map((match) => ({
    n: Number(match[1]),
    end: match.index + match[0].length,
  }));
}

/**
 * The VM's serial output through its VM host, from the host's start (serialHistory). One
 * watcher per VM host: a suspend or a stop ends it, a new start needs a new one.
 */
class SerialWatcher {
  text = '';
  readonly #client: VmHostClient;
  readonly #decoder = new TextDecoder();

  private constructor(client: VmHostClient) {
    this.#client = client;
    client.onSerial((bytes) => {
      this.text += this.#decoder.decode(bytes, { stream: true });
    });
  }

  static async attach(): Promise<SerialWatcher> {
    const services = await openVmServices({ env });
    const vm = findVm(await services.library.list(), VM);
    const client = await services.registry.connect(vm);
    const attached = new SerialWatcher(client);
    await client.call('subscribe', { serial: true, serialHistory: true });
    return attached;
  }

  async close(): Promise<void> {
    await Promise.race([this.#client.close(), sleep(1000)]);
    this.#client.destroy();
  }

  /** The end of the output, for failure messages. */
  tail(): string {
    return this.text.slice(-600);
  }

  lastCount(): number | undefined {
    return countsIn(this.text).at(-1)?.n;
  }

  /** Polls `probe` until it returns a value; fails with the output seen so far. */
  async waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = COUNT_TIMEOUT_MS) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (performance.now() > deadline) {
        assert.fail(`waited ${timeoutMs / 1000} s for ${what}; serial so far:\n${this.tail()}`);
      }
      await sleep(POLL_MS);
    }
  }

  /** Waits until the last count printed is at least `n`. */
  waitForCount(n: number, timeoutMs = COUNT_TIMEOUT_MS): Promise<number> {
    return this.waitFor(
      `"count ${n}"`,
      () => {
        const last = this.lastCount();
        return last !== undefined && last >= n ? last : undefined;
      },
      timeoutMs,
    );
  }

  /** Waits until nothing new arrives for SERIAL_SETTLE_MS (the VM is paused). */
  async settle(): Promise<void> {
    for (let round = 0; round < 20; round += 1) {
      const seen = this.text.length;
      await sleep(SERIAL_SETTLE_MS);
      if (this.text.length === seen) return;
    }
    assert.fail(`the VM should be paused, but it keeps printing:\n${this.tail()}`);
  }
}

/**
 * Pauses the VM where its output ends with a whole "count N" line, and returns N: the guest
 * is then before count N + 1 (in its wait, almost always). A pause that lands while a line is
 * being printed is retried.
 */
async function pauseAfterACount(): Promise<number> {
  const serial = watcher;
  assert.ok(serial, 'a serial watcher');
  for (let attempt = 1; attempt <= 10; attempt += 1) {
    await ok(['pause', VM]);
    await serial.settle();
    const last = countsIn(serial.text).at(-1);
    if (last && last.end === serial.text.length) return last.n;
    await ok(['resume', VM]);
    await serial.waitForCount((serial.lastCount() ?? 0) + 1);
  }
  assert.fail(`could not pause the VM after a whole "count" line; serial:\n${serial.tail()}`);
}

/**
 * Waits for the first count printed after `mark` (a length of the watcher's text) where the
 * guest went to, and for two more counting on from it.
 * - `from: 'paused'`: the VM was paused (and its output settled) at the mark, or the watcher
 *   is a new VM host's: whatever comes after the mark is from where the guest went.
 * - `from: 'running'`: the VM ran at the mark and goes back to a smaller count: output it
 *   printed before the revert paused it may still arrive after the mark, counting on; the
 *   first count that does not continue them is where it went.
 */
async function firstCountAfter(
  mark: number,
  from: 'paused' | 'running',
  what: string,
): Promise<number> {
  const serial = watcher;
  assert.ok(serial, 'a serial watcher');
  const first = await serial.waitFor(`the first count after ${what}`, () => {
    const counts = countsIn(serial.text);
    let previous = counts.filter((count) => count.end <= mark).at(-1)?.n;
    for (const count of counts.filter((c) => c.end > mark)) {
      if (from === 'paused' || previous === undefined || count.n <= previous) return count.n;
      previous = count.n;
    }
    return undefined;
  });
  await serial.waitFor(`counting on from ${first} after ${what}`, () => {
    const after = countsIn(serial.text)
      .filter((count) => count.end > mark)
      .map((count) => count.n);
    const at = after.lastIndexOf(first);
    return at >= 0 && after[at + 1] === first + 1 && after[at + 2] === first + 2 ? true : undefined;
  });
  return first;
}

/** Sector 0 of the VM's current disk (the VM must be off or suspended): the count it holds. */
async function countOnDisk(): Promise<number> {
  const store = await SnapshotStore.open(
    vmFolder,
    [path.join(vmFolder, 'disk.qcow2')],
    nativeDiskLayerOps(addon),
  );
  const [file] = store.currentDiskFiles();
  assert.ok(file);
  const sector = Buffer.from(await addon.imageRead(file, 0, 512));
  const n = Number(sector.readBigUInt64LE(0));
  assert.equal(
    sector.subarray(8, 8 + `NBCOUNT ${n}\n`.length).toString('latin1'),
    `NBCOUNT ${n}\n`,
    `sector 0 of ${file} holds what the guest writes`,
  );
  return n;
}

before(async () => {
  addon = addonWithKvm();
  guests = buildGuests();
  home = mkdtempSync(path.join(tmpdir(), 'nestbox-cli-snaps-'));
  env = {
    ...process.env,
    NESTBOX_HOME: home,
    HOME: path.join(home, 'home'),
    XDG_DATA_HOME: path.join(home, 'home', '.local', 'share'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
  };
});

after(async () => {
  await watcher?.close();
  // A failed test may leave the VM running: stop it the hard way.
  if (vmFolder) {
    const host = await readHostRecord(vmFolder);
    if (host.kind === 'ok' && isHostProcessAlive(host.record.pid)) {
      process.kill(host.record.pid, 'SIGKILL');
    }
  }
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('nestbox snapshots of a running VM', { skip: kvmSkipReason(), timeout: 240_000 }, () => {
  let atA = 0;
  let atB = 0;

  test('start the counter guest', async () => {
    const created = await json<{ folder: string }>([
      'create',
      VM,
      '--kernel',
      guests.elf['snapshot-counter'],
      '--append',
      'spin=300',
      '--memory',
      '64',
      '--disk-size',
      '16M',
    ]);
    vmFolder = created.folder;
    await ok(['start', VM]);
    watcher = await SerialWatcher.attach();
    await watcher.waitForCount(3, BOOT_TIMEOUT_MS);
    assert.match(watcher.text, /^snapshot-counter: fb=.* disk=32768 spin=300$/m);
    assert.equal(await stateOf(VM), 'running');
  });

  test('take A of the paused VM: with memory, and it stays paused', async () => {
    atA = await pauseAfterACount();
    const taken = await json<{ snapshot: { name: string; kind: string }; withMemory: boolean }>([
      'snapshot',
      'take',
      VM,
      'A',
    ]);
    assert.equal(taken.withMemory, true);
    assert.equal(taken.snapshot.kind, 'memory');
    assert.equal(await stateOf(VM), 'paused');
    await watcher?.settle();
    assert.equal(watcher?.lastCount(), atA, 'nothing ran while paused');
    await ok(['resume', VM]);
    await watcher?.waitForCount(atA + 4);
  });

  test('revert the running VM to A: it continues at the count after A', async () => {
    const mark = watcher?.text.length ?? 0;
    const reverted = await json<{ state: string }>(['snapshot', 'revert', VM, 'A']);
    assert.equal(reverted.state, 'running');
    assert.equal(await firstCountAfter(mark, 'running', 'reverting to A'), atA + 1);
    assert.equal(await stateOf(VM), 'running');
  });

  test('B later; revert to A; C taken running; revert the paused VM to B', async () => {
    await watcher?.waitForCount(atA + 6);
    atB = await pauseAfterACount();
    await ok(['snapshot', 'take', VM, 'B']);
    await ok(['resume', VM]);
    await watcher?.waitForCount(atB + 3);

    let mark = watcher?.text.length ?? 0;
    await ok(['snapshot', 'revert', VM, 'A']);
    assert.equal(await firstCountAfter(mark, 'running', 'reverting to A again'), atA + 1);

    // A take of the running VM: it keeps running, and counting without a gap or a repeat.
    const before = watcher?.lastCount() ?? 0;
    const taken = await json<{ withMemory: boolean }>(['snapshot', 'take', VM, 'C']);
    assert.equal(taken.withMemory, true);
    assert.equal(await stateOf(VM), 'running');
    await watcher?.waitForCount(before + 3);
    const counts = countsIn(watcher?.text ?? '').map((count) => count.n);
    const from = counts.lastIndexOf(before);
    assert.deepEqual(
      counts.slice(from, from + 4),
      [before, before + 1, before + 2, before + 3],
      'counting went on through the take',
    );

    // B is ahead of where the guest is now: pause first, so everything after the mark is B's.
    await ok(['pause', VM]);
    await watcher?.settle();
    mark = watcher?.text.length ?? 0;
    const reverted = await json<{ state: string }>(['snapshot', 'revert', VM, 'B']);
    assert.equal(reverted.state, 'running', 'a memory snapshot runs after a revert');
    assert.equal(await firstCountAfter(mark, 'paused', 'reverting to B'), atB + 1);

    const snapshots = await tree();
    const id = (name: string) => snapshots.nodes.find((node) => node.name === name)?.id;
    assert.deepEqual(
      snapshots.nodes.map((node) => [node.name, node.kind, node.parentId, node.children]),
      [
        ['A', 'memory', null, [id('B'), id('C')]],
        ['B', 'memory', id('A'), []],
        ['C', 'memory', id('A'), []],
      ],
    );
    assert.equal(snapshots.currentId, id('B'));
  });

  test('suspend, then resume: the guest continues at the count after the suspend', async () => {
    const atSuspend = await pauseAfterACount();
    const host = await hostPid();
    await ok(['suspend', VM]);
    await watcher?.close();
    watcher = undefined;
    await waitUntilEnded(host, 'suspended');
    // The disk holds the count the guest wrote last: the one printed, or (if the pause caught
    // it between writing and printing) the next.
    const onDisk = await countOnDisk();
    assert.ok(
      onDisk === atSuspend || onDisk === atSuspend + 1,
      `the disk holds ${onDisk} at a suspend after count ${atSuspend}`,
    );

    await ok(['resume', VM]);
    watcher = await SerialWatcher.attach();
    assert.equal(await firstCountAfter(0, 'paused', 'resuming'), atSuspend + 1);
    assert.equal(await stateOf(VM), 'running');
  });

  test('stop; revert to A while off leaves it suspended at A; start continues A', async () => {
    const host = await hostPid();
    await ok(['stop', VM, '--force']);
    await watcher?.close();
    watcher = undefined;
    await waitUntilEnded(host, 'off');

    const reverted = await json<{ state: string }>(['snapshot', 'revert', VM, 'A']);
    assert.equal(reverted.state, 'suspended');
    assert.equal(await stateOf(VM), 'suspended');
    await ok(['start', VM]);
    watcher = await SerialWatcher.attach();
    assert.equal(await firstCountAfter(0, 'paused', 'starting from A'), atA + 1);

    // A's files were only read: reverting to A again continues at the same count.
    const mark = watcher.text.length;
    await ok(['snapshot', 'revert', VM, 'A']);
    assert.equal(await firstCountAfter(mark, 'running', 'reverting to A once more'), atA + 1);
  });

  test('a refused take leaves the running VM running', async () => {
    const refused = await nestbox(['snapshot', 'take', VM, '   ']);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /name/);
    const state = await stateOf(VM);
    if (state === 'paused') await ok(['resume', VM]); // for the test after this one
    assert.equal(state, 'running');
  });

  test('stop: the VM is off and its snapshots are all there', async () => {
    const host = await hostPid();
    await ok(['stop', VM, '--force']);
    await watcher?.close();
    watcher = undefined;
    await waitUntilEnded(host, 'off');
    assert.deepEqual(
      (await tree()).nodes.map((node) => [node.name, node.kind]),
      [
        ['A', 'memory'],
        ['B', 'memory'],
        ['C', 'memory'],
      ],
    );
  });
});
