/**
 * Deleting a snapshot with progress and a cancel, on real qcow2 files (the built native
 * addon): the merges' data is copied before the commit, so a cancel in the middle of a merge
 * leaves the tree as it was — the snapshot still there and revertible, every disk reading the
 * same — and the delete can be run again to the end.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { makeTempDir } from '../library/test-fixtures.ts';
import { nativeDiskLayerOps, type DiskLayerOps } from './disk-layer-ops.ts';
import { SnapshotProcessState, SnapshotStore } from './snapshot-store.ts';
import { addon, current, stampDisks, strayEntries, takeSnapshot } from './test-disks.ts';

const { dir, cleanup } = await makeTempDir('snapshot-delete-cancel');
after(cleanup);

const MiB = 1024 * 1024;
const DISK = 64 * MiB;

/** 48 MiB that are not zero, so a merge has that much to copy. */
async function fill(file: string): Promise<void> {
  for (let offset = 0; offset < 48 * MiB; offset += 16 * MiB) {
    const data = new Uint8Array(16 * MiB);
    for (let i = 0; i < data.length; i += 4096)
      data.fill(((offset / MiB + i / 4096) % 251) | 1, i, i + 4096);
    await addon().imageWrite(file, offset, data);
  }
}

function isMonotonic(values: number[]): boolean {
  return values.every((value, index) => index === 0 || value >= (values[index - 1] ?? 0));
}

test('a delete cancelled mid-merge leaves the tree as it was; run again it completes', async () => {
  const folder = path.join(dir, 'vm');
  await mkdir(folder);
  const base = path.join(folder, 'disk.qcow2');
  await addon().imageCreate(base, { format: 'qcow2', size: DISK });

  // Cancels right after the first copy-only merge started (the native merge then stops
  // between two 4 MiB pieces: 48 MiB take far longer than this synchronous step).
  const controller = new AbortController();
  const reason = new Error('cancelled by the test');
  const real = nativeDiskLayerOps(addon());
  const calls: string[] = [];
  const ops: DiskLayerOps = {
    ...real,
    mergeLayer(layer, child, options) {
      calls.push(`${options?.copyOnly ? 'copy' : 'merge'} ${path.basename(child)}`);
      const merging = real.mergeLayer(layer, child, options);
      if (options?.copyOnly && !controller.signal.aborted) controller.abort(reason);
      return merging;
    },
  };
  const store = await SnapshotStore.open(folder, [base], ops, {
    processState: new SnapshotProcessState(),
  });

  //   A ── B ─┬── C
  //           └── (current)
  // B's layer holds 48 MiB; C's layer and the current overlay both depend on it.
  await takeSnapshot(store, 'A');
  await fill(store.currentDiskFiles()[0] ?? '');
  const b = await takeSnapshot(store, 'B');
  const bState = await current(store);
  await stampDisks(store.currentDiskFiles(), 'c');
  const c = await takeSnapshot(store, 'C');
  const cState = await current(store);
  await store.revert(b);
  await stampDisks(store.currentDiskFiles(), 'current');
  const now = await current(store);
  const treeFile = path.join(folder, 'snapshots', 'tree.json');
  const treeBefore = await readFile(treeFile, 'utf8');
  const bLayer = store.layerChain(b)[0];
  assert.ok(bLayer);
  const dependents = [store.layerChain(c)[0] ?? '', store.currentDiskFiles()[0] ?? ''];

  const progress: [number, number][] = [];
  await assert.rejects(
    store.delete(b, {
      vmRunning: false,
      signal: controller.signal,
      onProgress: (done, total) => progress.push([done, total]),
    }),
    (error) => error === reason,
  );
  assert.deepEqual(calls, [`copy ${path.basename(dependents[0] ?? '')}`]);
  assert.deepEqual(progress[0], [0, 2 * DISK]);
  assert.ok(isMonotonic(progress.map(([done]) => done)));

  // Nothing committed: the same tree.json, B still there, every disk reads the same.
  assert.equal(await readFile(treeFile, 'utf8'), treeBefore);
  assert.ok(store.tree().nodes.some((node) => node.id === b));
  assert.deepEqual(await current(store), now);
  assert.deepEqual(await strayEntries(folder), []);
  for (const dependent of dependents) {
    const info = await addon().imageInfo(dependent);
    assert.equal(path.resolve(path.dirname(dependent), info.backingFile ?? ''), bLayer);
    const check = await addon().imageCheck(dependent);
    assert.equal(check.status, 0, check.messages.join('\n'));
  }
  // …and B reverts as before (a new overlay on B's layer).
  await store.revert(b);
  assert.deepEqual(await current(store), bState);

  // Again, to the end: C and the current state keep their content, B's layer goes.
  const layerBytes = (await stat(bLayer)).blocks * 512;
  calls.length = 0;
  progress.length = 0;
  const result = await store.delete(b, {
    vmRunning: false,
    onProgress: (done, total) => progress.push([done, total]),
  });
  assert.ok(result.freedBytes >= layerBytes, `freed ${result.freedBytes} of ${layerBytes}`);
  assert.equal(result.retainedLayers, 0);
  assert.equal(result.collectProblem, undefined);
  assert.ok(calls.filter((call) => call.startsWith('copy')).length === 2, calls.join(', '));
  assert.deepEqual(progress[0], [0, 2 * DISK]);
  assert.deepEqual(progress.at(-1), [2 * DISK, 2 * DISK]);
  assert.ok(isMonotonic(progress.map(([done]) => done)));
  assert.ok(progress.every(([, total]) => total === 2 * DISK));
  await assert.rejects(stat(bLayer), { code: 'ENOENT' });
  assert.ok(!store.tree().nodes.some((node) => node.id === b));
  assert.deepEqual(await current(store), bState);
  assert.deepEqual(await strayEntries(folder), []);
  await store.revert(c);
  assert.deepEqual(await current(store), cState);
});

test('a delete with nothing to merge reports (0, 0) and an aborted signal refuses at once', async () => {
  const folder = path.join(dir, 'vm-small');
  await mkdir(folder);
  const base = path.join(folder, 'disk.qcow2');
  await addon().imageCreate(base, { format: 'qcow2', size: MiB });
  const store = await SnapshotStore.open(folder, [base], nativeDiskLayerOps(addon()), {
    processState: new SnapshotProcessState(),
  });
  const a = await takeSnapshot(store, 'A');
  const controller = new AbortController();
  controller.abort(new Error('too late'));
  await assert.rejects(store.delete(a, { vmRunning: false, signal: controller.signal }), {
    message: 'too late',
  });
  assert.ok(store.tree().nodes.some((node) => node.id === a));

  const progress: [number, number][] = [];
  await store.delete(a, {
    vmRunning: false,
    onProgress: (done, total) => progress.push([done, total]),
  });
  assert.deepEqual(progress, [[0, 0]]);
  assert.equal(store.tree().nodes.length, 0);
});
