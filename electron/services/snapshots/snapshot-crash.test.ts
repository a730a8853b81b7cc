/**
 * Crash safety: each operation is cut at its Nth file-system or disk-layer call, for every N,
 * either before the call does anything (a write leaves a torn temp file) or right after it
 * completed; every later call fails too, as in a process that died. Then a new "process"
 * opens the store and must find the old tree or the new one — every snapshot in it with its
 * content, the current disks with theirs, the old or the new resume point with its files —
 * and no file the tree does not reference. Finally
 * the leftovers of the cut operation are finished (hidden layers merged) and every snapshot is
 * reverted to and read back.
 *
 * fsync is skipped here (a killed process loses nothing the kernel already has); the
 * store's fsyncs protect against power loss, which a test cannot cut.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { makeTempDir } from '../library/test-fixtures.ts';
import type { DiskLayerOps } from './disk-layer-ops.ts';
import { nodeSnapshotFileSystem, type SnapshotFileSystem } from './snapshot-file-system.ts';
import { SnapshotProcessState, SnapshotStore } from './snapshot-store.ts';
import {
  buildBranchyTree,
  current,
  diskContents,
  makeTestVm,
  missingLayers,
  realDiskLayerOps,
  strayEntries,
  takeSnapshot,
  type BranchyTree,
  type TestVm,
} from './test-disks.ts';

const { dir, cleanup } = await makeTempDir('snapshot-crash');
after(cleanup);

const fastFileSystem: SnapshotFileSystem = {
  mkdir: nodeSnapshotFileSystem.mkdir,
  remove: nodeSnapshotFileSystem.remove,
  link: nodeSnapshotFileSystem.link,
  async writeFileAtomic(file, data) {
    const temp = path.join(
      path.dirname(file),
      `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`,
    );
    await writeFile(temp, data, { flag: 'wx' });
    await rename(temp, file);
  },
  async sync() {},
};

type CrashMode = 'before' | 'after';

/** Counts calls; at call `crashAt` the process "dies": that call and every later one throw. */
class Crash {
  calls = 0;
  dead = false;
  /** What each call was, in order. */
  readonly log: string[] = [];
  /** No crash until armed: opening the store is not part of the operation. */
  #crashAt = Number.POSITIVE_INFINITY;

  constructor(readonly mode: CrashMode) {}

  arm(crashAt: number): void {
    this.#crashAt = crashAt;
    this.calls = 0;
    this.log.length = 0;
  }

  async call<T>(what: string, perform: () => Promise<T>, torn?: () => Promise<void>): Promise<T> {
    if (this.dead) throw new Error(`the process is dead (${what})`);
    this.calls += 1;
    this.log.push(what);
    if (this.calls !== this.#crashAt) return perform();
    this.dead = true;
    if (this.mode === 'after') await perform();
    else await torn?.();
    throw new Error(`injected crash at call ${this.calls}: ${what}, ${this.mode}`);
  }

  fileSystem(): SnapshotFileSystem {
    return {
      mkdir: (file, options) =>
        this.call(`mkdir ${file}`, () => fastFileSystem.mkdir(file, options)),
      remove: (file) => this.call(`remove ${file}`, () => fastFileSystem.remove(file)),
      link: (existing, file) =>
        this.call(`link ${file}`, () => fastFileSystem.link(existing, file)),
      writeFileAtomic: (file, data) =>
        this.call(
          `write ${file}`,
          () => fastFileSystem.writeFileAtomic(file, data),
          // Killed mid-write: half a temp file beside the real one.
          () =>
            writeFile(
              path.join(path.dirname(file), '.tree.json.0dead0.tmp'),
              data.slice(0, data.length / 2),
            ),
        ),
      sync: (file) => this.call(`sync ${file}`, () => fastFileSystem.sync(file)),
    };
  }

  diskOps(real: DiskLayerOps): DiskLayerOps {
    return {
      createOverlay: (file, backing) =>
        this.call(`createOverlay ${path.basename(file)}`, async () => {
          await real.createOverlay(file, backing);
        }),
      mergeLayer: (layer, child, options) =>
        this.call(
          `mergeLayer${options?.copyOnly ? ' (copy only)' : ''} ${path.basename(layer)} → ${path.basename(child)}`,
          async () => real.mergeLayer(layer, child, options),
        ),
      virtualSize: (file) => real.virtualSize(file),
      fileBytes: (file) =>
        this.call(`fileBytes ${path.basename(file)}`, () => real.fileBytes(file)),
    };
  }
}

interface Template extends BranchyTree {
  vm: TestVm;
}

/** What a resume point's files hold, by label: suspends of the tests and snapshot E's. */
const resumeContents = new Map([
  ['old', { state: 'suspended: old', ram: Buffer.alloc(64 * 1024, 3) }],
  ['new', { state: 'suspended: new', ram: Buffer.alloc(64 * 1024, 4) }],
  ['E', { state: 'state of E', ram: Buffer.alloc(256 * 1024, 7) }],
]);

async function suspend(store: SnapshotStore, label: string): Promise<void> {
  const content = resumeContents.get(label);
  if (!content) throw new Error(`no resume content ${label}`);
  const prepared = await store.prepareSuspend();
  await writeFile(prepared.stateFile, content.state);
  await writeFile(prepared.ramFile, content.ram);
  await store.commitSuspend(prepared);
}

/** The branchy tree, suspended (resume point 'old') at the current state. */
const template: Promise<Template> = (async () => {
  const folder = path.join(dir, 'template');
  await mkdir(folder);
  const vm = await makeTestVm(folder);
  const store = await SnapshotStore.open(vm.folder, vm.baseDisks, realDiskLayerOps(), {
    fs: fastFileSystem,
    processState: new SnapshotProcessState(),
  });
  const built = await buildBranchyTree(store);
  await suspend(store, 'old');
  return { vm, ...built };
})();

let copies = 0;
async function copyOfTemplate(t: Template): Promise<TestVm> {
  copies += 1;
  const folder = path.join(dir, `copy-${copies}`);
  await cp(t.vm.folder, folder, { recursive: true });
  return {
    folder,
    baseDisks: t.vm.baseDisks.map((disk) => path.join(folder, path.basename(disk))),
  };
}

interface CrashCase {
  name: string;
  run(store: SnapshotStore, id: (name: string) => string): Promise<unknown>;
  /** Snapshot names once the operation is complete ('new' for a snapshot it takes). */
  after: string[];
  /** The current state's content once complete: a snapshot's name, or 'current'. */
  currentAfter: string;
  /** For a revert: which snapshot the position moves to. */
  positionAfter?: string;
  /** The resume point once complete (a label of resumeContents, or null); default 'old'. */
  resumeAfter?: string | null;
  /** Changes only the resume point: the disk follow-ups after the restart are skipped. */
  resumeOnly?: boolean;
}

const all = ['A', 'B', 'C', 'D', 'E', 'F'];
const without = (name: string) => all.filter((other) => other !== name);

const cases: CrashCase[] = [
  {
    name: 'take a memory snapshot',
    run: (store) => takeSnapshot(store, 'new', 'memory'),
    after: [...all, 'new'],
    currentAfter: 'current',
  },
  {
    name: 'revert to B',
    run: (store, id) => store.revert(id('B')),
    after: all,
    currentAfter: 'B',
    positionAfter: 'B',
    resumeAfter: null,
  },
  {
    name: 'revert to A (the base disks)',
    run: (store, id) => store.revert(id('A')),
    after: all,
    currentAfter: 'A',
    positionAfter: 'A',
    resumeAfter: null,
  },
  {
    name: 'delete B (two children merged)',
    run: (store, id) => store.delete(id('B'), { vmRunning: false }),
    after: without('B'),
    currentAfter: 'current',
  },
  {
    name: 'delete E (merged into the current overlay)',
    run: (store, id) => store.delete(id('E'), { vmRunning: false }),
    after: without('E'),
    currentAfter: 'current',
  },
  {
    name: 'delete A (the base disks: nothing merged)',
    run: (store, id) => store.delete(id('A'), { vmRunning: false }),
    after: without('A'),
    currentAfter: 'current',
  },
  {
    name: 'delete D (a leaf)',
    run: (store, id) => store.delete(id('D'), { vmRunning: false }),
    after: without('D'),
    currentAfter: 'current',
  },
  {
    name: 'delete B while running, then collect after power-off',
    run: async (store, id) => {
      await store.delete(id('B'), { vmRunning: true });
      await store.collectRetained({ vmRunning: false });
    },
    after: without('B'),
    currentAfter: 'current',
  },
  {
    name: 'rename C',
    run: (store, id) => store.rename(id('C'), 'Renamed'),
    after: all,
    currentAfter: 'current',
  },
  {
    name: 'suspend again (prepareSuspend, commitSuspend)',
    run: (store) => suspend(store, 'new'),
    after: all,
    currentAfter: 'current',
    resumeAfter: 'new',
    resumeOnly: true,
  },
  {
    name: 'suspend from memory snapshot E',
    run: (store, id) => store.suspendFromSnapshot(id('E')),
    after: all,
    currentAfter: 'current',
    resumeAfter: 'E',
    resumeOnly: true,
  },
  {
    name: 'clear the resume point',
    run: (store) => store.clearResume(),
    after: all,
    currentAfter: 'current',
    resumeAfter: null,
    resumeOnly: true,
  },
];

async function openHealthy(vm: TestVm): Promise<SnapshotStore> {
  return SnapshotStore.open(vm.folder, vm.baseDisks, realDiskLayerOps(), {
    fs: fastFileSystem,
    processState: new SnapshotProcessState(),
  });
}

/** Each snapshot's layers and the current disks read what they held when taken. */
async function checkContents(
  t: Template,
  store: SnapshotStore,
  nameOf: ReadonlyMap<string, string>,
  label: string,
  expectedCurrent = 'current',
) {
  for (const node of store.tree().nodes) {
    const name = nameOf.get(node.id) ?? 'current';
    assert.deepEqual(
      await diskContents(store.layerChain(node.id)),
      t.states.get(name),
      `${label}: content of ${name}`,
    );
  }
  assert.deepEqual(await current(store), t.states.get(expectedCurrent), `${label}: current disks`);
  assert.deepEqual(await missingLayers(store.vmFolder), [], `${label}: missing layers`);
}

/** Which resume point the store names (a label of resumeContents), its files read back. */
async function resumeLabel(store: SnapshotStore, label: string): Promise<string | null> {
  const files = store.resumeFiles();
  assert.equal(store.tree().suspended, files !== null, `${label}: tree().suspended`);
  if (!files) return null;
  const state = await readFile(files.stateFile, 'utf8');
  const found = [...resumeContents].find(([, content]) => content.state === state);
  assert.ok(found, `${label}: unknown resume state ${JSON.stringify(state)}`);
  assert.ok((await readFile(files.ramFile)).equals(found[1].ram), `${label}: resume RAM`);
  return found[0];
}

/** The checks after a crash and a restart; returns whether the new tree is in place. */
async function checkRecovered(t: Template, vm: TestVm, crashCase: CrashCase, label: string) {
  const store = await openHealthy(vm);
  assert.equal(store.problem, null, `${label}: ${store.problem?.message}`);
  assert.deepEqual(await strayEntries(vm.folder), [], `${label}: unreferenced files`);
  assert.deepEqual(await missingLayers(vm.folder), [], `${label}: missing layers`);
  const nameOf = new Map([...t.ids].map(([name, id]) => [id, name]));
  const tree = store.tree();
  const names = tree.nodes.map((node) => nameOf.get(node.id) ?? 'new').sort();
  const isNew = crashCase.positionAfter
    ? tree.currentId === t.ids.get(crashCase.positionAfter)
    : names.join() === [...crashCase.after].sort().join();
  if (!isNew) {
    assert.deepEqual(names, [...all].sort(), `${label}: neither the old nor the new tree`);
    assert.equal(tree.currentId, t.ids.get('E'), `${label}: old tree, old position`);
  }
  const expectedCurrent = isNew ? crashCase.currentAfter : 'current';
  await checkContents(t, store, nameOf, label, expectedCurrent);
  assert.deepEqual(
    await diskContents(t.vm.baseDisks),
    await diskContents(vm.baseDisks),
    `${label}: bases`,
  );
  // The resume point: the old one or the new one; where the tree shows which, the matching one.
  const resumeAfter = crashCase.resumeAfter === undefined ? 'old' : crashCase.resumeAfter;
  const treeShowsNew =
    crashCase.positionAfter !== undefined || crashCase.after.length !== all.length;
  const allowed = !isNew ? ['old'] : treeShowsNew ? [resumeAfter] : ['old', resumeAfter];
  const resume = await resumeLabel(store, label);
  assert.ok(
    allowed.includes(resume),
    `${label}: resume point ${resume}, expected ${allowed.join(' or ')}`,
  );
  return { store, isNew, nameOf, expectedCurrent, resume };
}

describe('a crash at any point of an operation leaves the old tree or the new one', () => {
  for (const crashCase of cases) {
    test(crashCase.name, async () => {
      const t = await template;
      const id = (name: string) => t.ids.get(name) ?? '';

      // A run without a crash: how many calls the operation makes.
      const counting = new Crash('before');
      const counted = await copyOfTemplate(t);
      const countingStore = await SnapshotStore.open(
        counted.folder,
        counted.baseDisks,
        counting.diskOps(realDiskLayerOps()),
        { fs: counting.fileSystem(), processState: new SnapshotProcessState() },
      );
      counting.arm(Number.POSITIVE_INFINITY);
      await crashCase.run(countingStore, id);
      const total = counting.calls;
      assert.ok(total > 0);
      const recovered = await checkRecovered(t, counted, crashCase, 'without a crash');
      assert.ok(recovered.isNew, 'without a crash the operation completes');
      assert.equal(
        recovered.resume,
        crashCase.resumeAfter === undefined ? 'old' : crashCase.resumeAfter,
        'without a crash: the resume point',
      );

      for (let crashAt = 1; crashAt <= total; crashAt += 1) {
        for (const mode of ['before', 'after'] as const) {
          // Dying right after a call that changes nothing is the same as dying before the next.
          const call = counting.log[crashAt - 1] ?? '';
          if (mode === 'after' && /^(fileBytes|sync) /.test(call)) continue;
          const label = `${crashCase.name}, crash at call ${crashAt} of ${total} (${mode})`;
          const vm = await copyOfTemplate(t);
          const crash = new Crash(mode);
          const store = await SnapshotStore.open(
            vm.folder,
            vm.baseDisks,
            crash.diskOps(realDiskLayerOps()),
            { fs: crash.fileSystem(), processState: new SnapshotProcessState() },
          );
          crash.arm(crashAt);
          await crashCase.run(store, id).catch(() => undefined);
          assert.ok(crash.dead, `${label}: the crash happened`);

          const {
            store: restarted,
            nameOf,
            expectedCurrent,
          } = await checkRecovered(t, vm, crashCase, label);
          if (crashCase.resumeOnly) {
            // The disks were not touched (checked above); the recovered resume point can go.
            await restarted.clearResume();
            assert.equal(restarted.resumeFiles(), null, `${label}: cleared`);
            assert.deepEqual(await strayEntries(vm.folder), [], `${label}: after clearing`);
            continue;
          }
          // What a cut delete left is merged by the next collection; then every snapshot
          // reverts to its content.
          const collected = await restarted.collectRetained({ vmRunning: false });
          assert.equal(
            collected.collectProblem,
            undefined,
            `${label}: ${collected.collectProblem}`,
          );
          assert.equal(collected.retainedLayers, 0, `${label}: hidden layers left`);
          assert.deepEqual(await strayEntries(vm.folder), [], `${label}: after collecting`);
          // Deleting a parent next (one with layers of its own, not the bases) must not lose
          // what its descendants need, whatever a cut merge left behind.
          const parent = restarted
            .tree()
            .nodes.find((node) => node.children.length > 0 && node.parentId !== null);
          if (parent) {
            await restarted.delete(parent.id, { vmRunning: false });
            await checkContents(
              t,
              restarted,
              nameOf,
              `${label}, then deleting a parent`,
              expectedCurrent,
            );
          }
          for (const node of restarted.tree().nodes) {
            const name = nameOf.get(node.id) ?? 'current';
            await restarted.revert(node.id);
            assert.deepEqual(
              await current(restarted),
              t.states.get(name),
              `${label}: revert to ${name}`,
            );
          }
        }
      }
    });
  }
});
