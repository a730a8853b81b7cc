/**
 * The snapshot acceptance test for crashes: the VM host process is killed (SIGKILL) at random
 * points during take, revert, delete and suspend, round after round. After every kill the VM
 * must open — its snapshot store usable, no unreferenced file left after the open, every
 * snapshot reported as taken (and not reported as deleted) still in the tree — and every
 * snapshot reported as taken must revert correctly: the VM continues at the count it saved,
 * on a disk holding that count.
 *
 * Real VM host processes around the scripted counting machine (electron/serve/testing), whose
 * save and restore are slowed a little (NESTBOX_SCRIPTED_SAVE_MS, NESTBOX_SCRIPTED_RESTORE_MS)
 * so that kills land inside them as well as inside the store's own steps. Each kill's delay is
 * drawn from 0 … 1.3 × the operation's running average duration (an operation cut off before it
 * answered raises its estimate, so a slow machine still sees some finish). NESTBOX_KILL_SEED repeats a
 * run; NESTBOX_KILL_ROUNDS changes the number of rounds (default 52).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { LibraryVm } from '../library/vm-library.ts';
import type { SnapshotTree } from '../snapshots/snapshot-store.ts';
import { savedCounter } from '../../serve/testing/counting-state-file.ts';
import {
  GuestWatch,
  createCountingVm,
  openAndCheckStore,
  openCountingStack,
  processGone,
  qcow2Files,
  qemuImgCheck,
  type CountingStack,
  type GuestLine,
} from '../../serve/testing/counting-vm-harness.ts';
import { SCRIPTED_RESTORE_MS, SCRIPTED_SAVE_MS } from '../../serve/testing/scripted-machines.ts';
import { VmHostError } from './vm-host-client.ts';

const ROUNDS = Number(process.env['NESTBOX_KILL_ROUNDS'] ?? 52);
const SEED = Number(process.env['NESTBOX_KILL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
/** Revert to every reported snapshot after this many rounds (and at the end). */
const VERIFY_EVERY = 15;
/** Fewer snapshots than this: always take; more than the cap: never. */
const MIN_SNAPSHOTS = 2;
const MAX_SNAPSHOTS = 7;

/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

type Operation = 'take' | 'revert' | 'delete' | 'suspend';

let stack: CountingStack;
let vm: LibraryVm;

before(async () => {
  stack = await openCountingStack({ [SCRIPTED_SAVE_MS]: '60', [SCRIPTED_RESTORE_MS]: '30' });
  vm = await createCountingVm(stack, 'kill');
});

after(async () => {
  await stack?.close();
});

/** A snapshot we know of, with the count it saved. */
interface Known {
  id: string;
  name: string;
  counter: number;
  /** Reported as taken; else committed by a take whose answer the kill cut off. */
  reported: boolean;
}

interface Running {
  pid: number;
  watch: GuestWatch;
}

/** SIGKILL, only to the VM host we started (its command line names the scripted host). */
function killHost(pid: number): boolean {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    if (!command.includes('scripted-vm-host-main.ts')) return false;
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false; // It had ended already.
  }
}

function stateFileOf(id: string): string {
  return path.join(vm.folder, 'snapshots', id, 'state.nbsnap');
}

function lastCountBefore(lines: readonly GuestLine[], end: number): number | undefined {
  for (let index = end - 1; index >= 0; index -= 1) {
    const line = lines[index];
    if (line?.kind === 'count') return line.counter;
  }
  return undefined;
}

test(
  `SIGKILL of the VM host during take, revert, delete and suspend (${ROUNDS} rounds)`,
  {
    timeout: 60_000 + ROUNDS * 3000,
  },
  async (t) => {
    const began = performance.now();
    const log = (line: string) => console.log(line);
    log(`seed ${SEED} (NESTBOX_KILL_SEED=${SEED} repeats this run)`);
    const known = new Map<string, Known>();
    /** The saved count the next start must continue, when a reported suspend left one. */
    let expectedResume: number | null = null;
    const average: Record<Operation, number> = { take: 150, revert: 100, delete: 40, suspend: 120 };
    const tally = { reported: 0, cut: 0, exitedFirst: 0 };
    const operations: Record<Operation, number> = { take: 0, revert: 0, delete: 0, suspend: 0 };
    let running: Running | null = null;
    let taken = 0;

    /** Starts the VM and checks how it started against what the tree and the last round say. */
    async function start(tree: SnapshotTree | null): Promise<Running> {
      const { pid } = await stack.services.registry.start(vm);
      const watch = await GuestWatch.open(stack.services, vm);
      const first = await watch.started();
      if (first.kind === 'boot') {
        assert.ok(!tree?.suspended, 'a suspended VM must continue, not boot afresh');
      } else {
        assert.equal(first.kind, 'resumed');
        assert.equal(first.disk, first.counter, 'the resumed machine and its disk agree');
        assert.ok(tree?.suspended, 'resumed only from a resume point');
        if (expectedResume !== null) assert.equal(first.counter, expectedResume);
      }
      expectedResume = null;
      await watch.waitForCount(1);
      return { pid, watch };
    }

    async function ensureRunning(): Promise<Running> {
      running ??= await start((await openAndCheckStore(vm)).tree());
      return running;
    }

    /** Reverts (not killed) to every known snapshot, checking count and disk. */
    async function verifyAll(label: string): Promise<void> {
      const { watch }: Running = await ensureRunning();
      const order = [...known.values()].sort(() => rand() - 0.5);
      for (const snapshot of order) {
        const mark = watch.mark();
        const result = await watch.client.call('snapshotRevert', { snapshot: snapshot.id });
        assert.equal(result.state, 'running');
        const { line, next } = await watch.continued(mark, 'restored');
        assert.deepEqual(
          { counter: line.counter, disk: line.disk, next },
          { counter: snapshot.counter, disk: snapshot.counter, next: snapshot.counter + 1 },
          `reverting to ${snapshot.name} (${snapshot.reported ? 'reported' : 'committed'})`,
        );
      }
      log(`${label}: reverted to ${order.length} snapshot(s), each continued at its count`);
    }

    for (let round = 1; round <= ROUNDS; round += 1) {
      const store = await openAndCheckStore(vm);
      const before = store.tree();
      const current: Running = running ?? (await start(before));
      running = current;
      const pid: number = current.pid;
      const watch: GuestWatch = current.watch;
      await watch.waitForCount((watch.lastCount() ?? 0) + 2);

      const ids = [...known.keys()];
      const operation: Operation =
        known.size < MIN_SNAPSHOTS
          ? 'take'
          : pick<Operation>(
              known.size >= MAX_SNAPSHOTS
                ? ['revert', 'delete', 'delete', 'suspend']
                : ['take', 'revert', 'delete', 'suspend'],
            );
      operations[operation] += 1;
      const target = operation === 'revert' || operation === 'delete' ? pick(ids) : undefined;
      const name = `s${round}`;
      const mark = watch.mark();
      const call = (): Promise<unknown> => {
        switch (operation) {
          case 'take':
            return watch.client.call('snapshotTake', { name });
          case 'revert':
            return watch.client.call('snapshotRevert', { snapshot: target ?? '' });
          case 'delete':
            return watch.client.call('snapshotDelete', { snapshot: target ?? '' });
          case 'suspend':
            return watch.client.call('suspend');
        }
      };

      const delay = rand() * 1.3 * average[operation];
      const t0 = performance.now();
      let killedAt: number | undefined;
      let killed = false;
      const kill = new Promise<void>((resolve) =>
        setTimeout(() => {
          killedAt = performance.now() - t0;
          killed = killHost(pid);
          resolve();
        }, delay),
      );
      const outcome = await call().then(
        (value) => ({ ok: true as const, value, at: performance.now() - t0 }),
        (error: unknown) => ({ ok: false as const, error, at: performance.now() - t0 }),
      );
      await kill;
      await processGone(pid);
      running = null;
      watch.destroy();

      const reported = outcome.ok && killedAt !== undefined && outcome.at < killedAt;
      if (outcome.ok) average[operation] = 0.7 * average[operation] + 0.3 * outcome.at;
      else {
        // Cut off before it answered: on a slower machine the operation takes longer than
        // the estimate, so later kills must be allowed to land later (or none would finish).
        average[operation] *= 1.25;
        // The only failure allowed is the connection dying with the host.
        assert.ok(
          outcome.error instanceof VmHostError && outcome.error.code === 'disconnected',
          `${operation} failed: ${String(outcome.error)}`,
        );
      }
      if (reported) tally.reported += 1;
      else tally.cut += 1;
      if (!killed) tally.exitedFirst += 1;

      // The VM is not running: killed (crashed), or it had stopped on its own (suspend).
      const status = (await stack.services.registry.status(vm)).state;
      assert.ok(
        ['crashed', 'off', 'suspended'].includes(status),
        `status after the kill: ${status}`,
      );
      const opened = await openAndCheckStore(vm);
      const tree = opened.tree();
      const inTree = new Set(tree.nodes.map((node) => node.id));
      assert.ok(
        tree.nodes.every((node) => node.kind === 'memory'),
        'only running takes happened',
      );

      let note = '';
      switch (operation) {
        case 'take': {
          const node = tree.nodes.find((n) => n.name === name);
          if (reported) {
            assert.ok(node, `the reported snapshot ${name} is in the tree`);
            const switched: GuestLine | undefined = watch.lines
              .slice(mark)
              .find((line: GuestLine) => line.kind === 'switched');
            assert.ok(
              switched?.kind === 'switched',
              'the machine moved to the new overlays before the answer',
            );
            const counter = lastCountBefore(watch.lines, watch.lines.indexOf(switched));
            assert.equal(switched.counter, counter, 'saved at the last count it printed');
            assert.equal(switched.disk, counter);
            assert.equal(savedCounter(stateFileOf(node.id)), counter);
            assert.equal(tree.currentId, node.id);
          }
          if (node) {
            known.set(node.id, {
              id: node.id,
              name,
              counter: savedCounter(stateFileOf(node.id)),
              reported,
            });
            taken += 1;
          }
          note = node ? (reported ? 'taken' : 'committed, unreported') : 'not committed';
          break;
        }
        case 'revert': {
          const goal = known.get(target ?? '');
          if (reported) assert.equal(tree.currentId, target, 'a reported revert is where we are');
          else assert.ok([before.currentId, target].includes(tree.currentId));
          note = `${goal?.name}: ${tree.currentId === target ? 'moved' : 'not moved'}`;
          break;
        }
        case 'delete': {
          const goal = known.get(target ?? '');
          if (reported) assert.ok(!inTree.has(target ?? ''), 'a reported delete is gone');
          if (!inTree.has(target ?? '')) known.delete(target ?? '');
          note = `${goal?.name}: ${inTree.has(target ?? '') ? 'still there' : 'gone'}, ${tree.retainedLayers} retained`;
          break;
        }
        case 'suspend': {
          if (reported) assert.ok(tree.suspended, 'a reported suspend left a resume point');
          const resume = opened.resumeFiles();
          if (resume) {
            const counter = savedCounter(resume.stateFile);
            assert.equal(counter, lastCountBefore(watch.lines, watch.lines.length));
            expectedResume = counter;
          }
          note = resume ? 'suspended' : 'not suspended';
          break;
        }
      }
      // Every snapshot we know of is still there (deleted ones were dropped above); any other
      // snapshot in the tree would be one no take committed.
      for (const snapshot of known.values()) {
        assert.ok(inTree.has(snapshot.id), `${snapshot.name} is still in the tree`);
      }
      assert.equal(tree.nodes.length, known.size, 'no snapshot appeared from nowhere');

      log(
        `round ${String(round).padStart(2)}: ${operation.padEnd(7)} killed at ` +
          `${String(Math.round(killedAt ?? 0)).padStart(3)} ms ` +
          `(${outcome.ok ? `answered at ${Math.round(outcome.at)} ms` : 'no answer'}` +
          `${killed ? '' : ', host had exited'}) → ${status}; ${note}`,
      );

      if (round % VERIFY_EVERY === 0 || round === ROUNDS) await verifyAll(`after round ${round}`);
    }

    // A clean stop at the end: the host merges what deletes left, and every file checks out.
    running ??= await start((await openAndCheckStore(vm)).tree());
    await running.watch.client.call('powerOff');
    await processGone(running.pid);
    running.watch.destroy();
    const final = await openAndCheckStore(vm);
    assert.equal(final.tree().retainedLayers, 0);
    let leaky = 0;
    for (const file of await qcow2Files(vm)) {
      const check = qemuImgCheck(file);
      assert.ok(
        check.status === 0 || check.status === 3,
        `qemu-img check ${file}: ${check.output}`,
      );
      if (check.status === 3) leaky += 1;
    }
    const seconds = ((performance.now() - began) / 1000).toFixed(1);
    const summary =
      `${ROUNDS} rounds in ${seconds} s (${Object.entries(operations)
        .map(([operation, count]) => `${count} ${operation}`)
        .join(', ')}): ${tally.reported} answered before the kill, ` +
      `${tally.cut} cut off (${tally.exitedFirst} hosts had exited first); ${taken} snapshots ` +
      `taken, ${known.size} left; ${leaky} file(s) with leaked clusters`;
    log(summary);
    t.diagnostic(summary);
    assert.ok(taken >= 5, 'enough snapshots were taken to revert to');
  },
);
