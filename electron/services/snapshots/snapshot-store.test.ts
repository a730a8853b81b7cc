/**
 * The snapshot store on real qcow2 files (the built native addon): what the guest reads
 * after takes, reverts and deletes, hidden layers while the VM runs, linked-clone protection,
 * suspending and resuming, and what happens with a broken, newer or escaping tree.json.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { makeTempDir } from '../library/test-fixtures.ts';
import { backingReference, nativeDiskLayerOps } from './disk-layer-ops.ts';
import { SnapshotStoreError, type SnapshotErrorCode } from './snapshot-error.ts';
import {
  SnapshotProcessState,
  SnapshotStore,
  type SnapshotStoreOptions,
} from './snapshot-store.ts';
import {
  addon,
  buildBranchyTree,
  current,
  diskContents,
  makeTestVm,
  missingLayers,
  readTreeDocument,
  realDiskLayerOps,
  stampDisks,
  strayEntries,
  takeSnapshot,
  type TestVm,
} from './test-disks.ts';

const { dir, cleanup } = await makeTempDir('snapshots');
after(cleanup);

let counter = 0;
async function freshVm(options: { disks?: 1 | 2 } = {}): Promise<TestVm> {
  counter += 1;
  const folder = path.join(dir, `vm-${counter}`);
  await mkdir(folder);
  return makeTestVm(folder, options);
}

function openStore(vm: TestVm, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
  return SnapshotStore.open(vm.folder, vm.baseDisks, realDiskLayerOps(), {
    processState: new SnapshotProcessState(),
    ...options,
  });
}

const take = takeSnapshot;

async function expectStoreError(
  action: () => unknown,
  code: SnapshotErrorCode,
  message?: RegExp,
): Promise<SnapshotStoreError> {
  try {
    await action();
  } catch (error) {
    assert.ok(error instanceof SnapshotStoreError, `expected a SnapshotStoreError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** Suspends the way the VM host does: prepare, write state and RAM, commit. */
async function suspend(
  store: SnapshotStore,
  tag: string,
): Promise<{ stateFile: string; ramFile: string }> {
  const prepared = await store.prepareSuspend();
  await writeFile(prepared.stateFile, `suspended: ${tag}`);
  await writeFile(prepared.ramFile, Buffer.alloc(64 * 1024, tag.length));
  await store.commitSuspend(prepared);
  return { stateFile: prepared.stateFile, ramFile: prepared.ramFile };
}

const gone = (file: string) =>
  stat(file).then(
    () => false,
    () => true,
  );

/** Every file under a folder with its bytes, to show nothing changed. */
async function snapshotOfFiles(folder: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (at: string) => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.set(path.relative(folder, full), (await readFile(full)).toString('base64'));
    }
  };
  await walk(folder);
  return files;
}

describe('taking and reverting', () => {
  test('A → B, revert to A, branch C, revert to B: the disks read each state back', async () => {
    const vm = await freshVm();
    const store = await openStore(vm);
    assert.deepEqual(store.currentDiskFiles(), vm.baseDisks, 'before any snapshot: the bases');
    const stateA = await current(store);
    const a = await take(store, 'A');
    assert.notDeepEqual(store.currentDiskFiles(), vm.baseDisks);
    await stampDisks(store.currentDiskFiles(), 'after A');
    const stateB = await current(store);
    const b = await take(store, 'B', 'memory');
    await stampDisks(store.currentDiskFiles(), 'after B');
    const afterB = await current(store);

    const toA = await store.revert(a);
    assert.equal(toA.memory, null, 'A is a disk snapshot');
    assert.deepEqual(toA.diskFiles, store.currentDiskFiles());
    assert.deepEqual(await current(store), stateA);
    assert.notDeepEqual(afterB, stateA);

    await stampDisks(store.currentDiskFiles(), 'branch C');
    const stateC = await current(store);
    const c = await take(store, 'C');
    assert.equal(store.tree().nodes.find((n) => n.id === c)?.parentId, a, 'C branches from A');

    const toB = await store.revert(b);
    assert.deepEqual(await current(store), stateB);
    const filesOfB = store.snapshotFiles(b);
    assert.deepEqual(toB.memory, { stateFile: filesOfB.stateFile, ramFile: filesOfB.ramFile });
    assert.equal(await readFile(toB.memory?.stateFile ?? '', 'utf8'), 'state of B');

    await store.revert(c);
    assert.deepEqual(await current(store), stateC);

    const tree = store.tree();
    assert.deepEqual(tree.roots, [a]);
    assert.deepEqual(
      tree.nodes.map((n) => n.name),
      ['A', 'B', 'C'],
    );
    assert.deepEqual(tree.nodes[0]?.children, [b, c], 'children oldest first');
    assert.equal(tree.currentId, c);
    // The base disks never changed after A froze them.
    assert.deepEqual(await diskContents(vm.baseDisks), stateA);
    assert.deepEqual(await strayEntries(vm.folder), []);

    // A second store (another process) sees the same tree and files.
    const again = await openStore(vm);
    assert.deepEqual(again.tree(), tree);
    assert.deepEqual(again.currentDiskFiles(), store.currentDiskFiles());
  });

  test('layer chains, findByName, rename and describe', async () => {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    const first = await take(store, '  Clean install  ');
    const second = await take(store, 'Twin');
    const third = await take(store, 'Twin');
    assert.equal(store.findByName('Clean install').id, first, 'names are trimmed');
    assert.equal(store.findByName(second).id, second);
    const ambiguous = await expectStoreError(() => store.findByName('Twin'), 'snapshot-ambiguous');
    assert.ok(ambiguous.message.includes(second) && ambiguous.message.includes(third));
    await expectStoreError(() => store.findByName('nope'), 'snapshot-not-found');

    assert.deepEqual(
      store.layerChain(first),
      vm.baseDisks,
      "the first snapshot's layer is the base",
    );
    const [layer] = store.layerChain(second);
    assert.match(layer ?? '', /snapshots\/layers\/[0-9a-f]{32}\.qcow2$/);

    const renamed = await store.rename(third, 'Triplet');
    assert.equal(renamed.name, 'Triplet');
    const described = await store.describe(third, 'Line one\nline two');
    assert.equal(described.description, 'Line one\nline two');
    await expectStoreError(() => store.rename(third, '   '), 'invalid-name');
    await expectStoreError(() => store.rename(third, 'x'.repeat(101)), 'invalid-name');
    await expectStoreError(() => store.prepareTake({ name: '', kind: 'disk' }), 'invalid-name');
    await expectStoreError(
      () => store.prepareTake({ name: 'x', kind: 'live' as 'disk' }),
      'invalid-request',
    );
    await expectStoreError(
      () => store.revert('0b0d6c1e-0000-4000-8000-000000000000'),
      'snapshot-not-found',
    );
    assert.equal((await openStore(vm)).findByName('Triplet').description, 'Line one\nline two');
  });

  test('a prepared take: files checked, stale after a revert, abandoned without a trace', async () => {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    const a = await take(store, 'A');
    const prepared = await store.prepareTake({ name: 'Running', kind: 'memory' });
    assert.ok((await stat(prepared.directory)).isDirectory());
    await expectStoreError(
      () => store.commitTake(prepared, { thumbnail: false }),
      'snapshot-files-missing',
      /state\.nbsnap/,
    );
    await writeFile(prepared.stateFile, 'state');
    await writeFile(prepared.ramFile, 'ram');
    await expectStoreError(
      () => store.commitTake(prepared, { thumbnail: true }),
      'snapshot-files-missing',
      /thumbnail\.png/,
    );
    // Opening the store elsewhere in this process leaves a prepared take alone.
    await SnapshotStore.open(vm.folder, vm.baseDisks, realDiskLayerOps());
    await store.revert(a);
    await expectStoreError(() => store.commitTake(prepared, { thumbnail: false }), 'take-stale');
    await store.abandonTake(prepared);
    assert.deepEqual(await strayEntries(vm.folder), []);
    await expectStoreError(
      () => store.commitTake(prepared, { thumbnail: false }),
      'invalid-request',
    );

    const withThumbnail = await store.prepareTake({ name: 'Pretty', kind: 'disk' });
    await writeFile(withThumbnail.thumbnailFile, 'png');
    const node = await store.commitTake(withThumbnail, { thumbnail: true });
    assert.equal(node.thumbnail, true);
    assert.equal(node.parentId, a);
  });
});

describe('deleting', () => {
  const template = (async () => {
    const vm = await freshVm();
    const built = await buildBranchyTree(await openStore(vm));
    return { vm, ...built };
  })();

  /** A copy of the template VM: every backing reference inside it is relative. */
  async function copyOfTemplate(): Promise<TestVm & Awaited<typeof template>> {
    const source = await template;
    counter += 1;
    const folder = path.join(dir, `copy-${counter}`);
    await cp(source.vm.folder, folder, { recursive: true });
    return {
      ...source,
      folder,
      baseDisks: source.vm.baseDisks.map((disk) => path.join(folder, path.basename(disk))),
    };
  }

  for (const victim of ['A', 'B', 'C', 'D', 'E', 'F']) {
    test(`deleting ${victim} keeps every other snapshot's content and the current state`, async () => {
      const vm = await copyOfTemplate();
      const store = await openStore(vm);
      const baseBefore = await diskContents(vm.baseDisks);
      const victimId = vm.ids.get(victim) ?? '';
      const result = await store.delete(victimId, { vmRunning: false });
      if (victim === 'A') {
        assert.equal(result.freedBytes, 0, 'A is the base disks: nothing is freed');
      } else {
        assert.ok(result.freedBytes > 0, `freed ${result.freedBytes} bytes`);
      }
      assert.equal(result.retainedLayers, 0);
      assert.equal(result.collectProblem, undefined);
      assert.deepEqual(await current(store), vm.states.get('current'));
      assert.deepEqual(await diskContents(vm.baseDisks), baseBefore, 'bases untouched');
      assert.deepEqual(await strayEntries(vm.folder), []);
      assert.deepEqual(await missingLayers(vm.folder), []);

      const tree = store.tree();
      assert.equal(tree.nodes.length, 5);
      const victimNode = tree.nodes.find((n) => n.id === victimId);
      assert.equal(victimNode, undefined);
      // Children moved up to the victim's parent.
      const parentOf = (name: string) =>
        tree.nodes.find((n) => n.id === vm.ids.get(name))?.parentId ?? null;
      if (victim === 'B') {
        assert.equal(parentOf('D'), vm.ids.get('A'));
        assert.equal(parentOf('E'), vm.ids.get('A'));
      }
      if (victim === 'A') assert.deepEqual(tree.roots.length, 2);
      if (victim === 'E') assert.equal(tree.currentId, vm.ids.get('B'));

      for (const [name, id] of vm.ids) {
        if (name === victim) continue;
        await store.revert(id);
        assert.deepEqual(
          await current(store),
          vm.states.get(name),
          `${name} after deleting ${victim}`,
        );
      }
      assert.deepEqual(await strayEntries(vm.folder), []);
    });
  }

  test('deleting every snapshot one by one leaves the current state on its own', async () => {
    const vm = await copyOfTemplate();
    const store = await openStore(vm);
    for (const name of ['E', 'A', 'F', 'B', 'D', 'C']) {
      await store.delete(vm.ids.get(name) ?? '', { vmRunning: false });
      assert.deepEqual(await current(store), vm.states.get('current'), `after deleting ${name}`);
    }
    const document = await readTreeDocument(vm.folder);
    assert.equal(document.snapshots.length, 0);
    assert.equal(document.layers.length, 2, 'one overlay per disk, on the bases');
    assert.deepEqual(
      document.layers.map((layer) => layer.backing),
      [null, null],
    );
    const fresh = await take(store, 'Again');
    assert.equal(store.tree().nodes[0]?.id, fresh);
  });

  test('a linked clone protects its snapshot and everything under it', async () => {
    const vm = await copyOfTemplate();
    const store = await openStore(vm);
    const clone = '7d3e2a10-1111-4222-8333-444455556666';
    const e = vm.ids.get('E') ?? '';
    await store.protect(e, clone);
    await store.protect(e, clone.toUpperCase());
    assert.deepEqual(store.tree().nodes.find((n) => n.id === e)?.protectedBy, [clone]);
    await expectStoreError(
      () => store.delete(e, { vmRunning: false }),
      'snapshot-protected',
      /7d3e2a10/,
    );
    await expectStoreError(() => store.protect(e, 'not-a-vm'), 'invalid-request');
    // B is under E: deleting B hides its layer rather than rewrite E's, which the clone reads.
    const eLayers = store.layerChain(e);
    const before = await Promise.all(eLayers.map(async (file) => (await stat(file)).mtimeMs));
    const result = await store.delete(vm.ids.get('B') ?? '', { vmRunning: false });
    assert.equal(result.retainedLayers, 2, "B's layer on each disk waits for the clone");
    const afterDelete = await Promise.all(eLayers.map(async (file) => (await stat(file)).mtimeMs));
    assert.deepEqual(afterDelete, before, "E's layers were not touched");
    assert.deepEqual(await diskContents(eLayers), vm.states.get('E'));
    await store.unprotect(e, clone);
    const collected = await store.collectRetained({ vmRunning: false });
    assert.equal(collected.retainedLayers, 0);
    assert.ok(collected.freedBytes > 0);
    await store.revert(e);
    assert.deepEqual(await current(store), vm.states.get('E'));
    assert.deepEqual(await strayEntries(vm.folder), []);
  });

  test('while the VM runs, a layer it reads is kept hidden and merged by a later delete', async () => {
    const vm = await copyOfTemplate();
    const store = await openStore(vm);
    const overlaysBefore = store.currentDiskFiles();
    const times = async () =>
      Promise.all(overlaysBefore.map(async (file) => (await stat(file)).mtimeMs));
    const overlayTimes = await times();
    // E is where the VM runs from: its layer is under the overlay the VM writes.
    const running = await store.delete(vm.ids.get('E') ?? '', { vmRunning: true });
    assert.equal(running.retainedLayers, 2);
    assert.ok(running.freedBytes > 0, "E's memory files are freed at once");
    assert.deepEqual(store.currentDiskFiles(), overlaysBefore, 'the VM keeps its files');
    assert.deepEqual(await times(), overlayTimes, 'the overlays were not touched');
    assert.equal(store.tree().retainedLayers, 2);
    assert.deepEqual(await current(store), vm.states.get('current'));
    // Deleting D (not under the VM) while it runs still merges nothing the VM reads.
    const other = await store.delete(vm.ids.get('D') ?? '', { vmRunning: true });
    assert.equal(other.retainedLayers, 2);
    // Reopening (another process) keeps the hidden layers: something depends on them.
    const reopened = await openStore(vm);
    assert.equal(reopened.tree().retainedLayers, 2);
    assert.deepEqual(await strayEntries(vm.folder), []);
    // Powered off: the next delete merges them away.
    const off = await reopened.delete(vm.ids.get('F') ?? '', { vmRunning: false });
    assert.equal(off.retainedLayers, 0);
    assert.deepEqual(await current(reopened), vm.states.get('current'));
    for (const name of ['A', 'B', 'C']) {
      await reopened.revert(vm.ids.get(name) ?? '');
      assert.deepEqual(await current(reopened), vm.states.get(name));
    }
    assert.deepEqual(await strayEntries(vm.folder), []);
  });

  test('a hidden layer whose dependent is reverted away is simply dropped', async () => {
    const vm = await copyOfTemplate();
    const store = await openStore(vm);
    await store.delete(vm.ids.get('E') ?? '', { vmRunning: true });
    assert.equal(store.tree().retainedLayers, 2);
    await store.revert(vm.ids.get('C') ?? '');
    assert.equal(store.tree().retainedLayers, 0);
    assert.deepEqual(await strayEntries(vm.folder), []);
    assert.deepEqual(await current(store), vm.states.get('C'));
  });
});

describe('suspending and resuming', () => {
  test('suspend, then resumeFiles; a second suspend replaces the first and its folder goes', async () => {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    assert.equal(store.resumeFiles(), null);
    assert.equal(store.tree().suspended, false);
    // Before any snapshot: the VM runs on its base disk, and the tree is written for the suspend.
    const first = await suspend(store, 'first');
    assert.match(
      path.relative(vm.folder, first.stateFile),
      /^snapshots\/suspend-[0-9a-f-]{36}\/state\.nbsnap$/,
    );
    assert.deepEqual(store.resumeFiles(), first);
    assert.equal(store.tree().suspended, true);
    assert.deepEqual(store.currentDiskFiles(), vm.baseDisks);
    const document = await readTreeDocument(vm.folder);
    assert.deepEqual(document.current.resume, {
      folder: path.basename(path.dirname(first.stateFile)),
    });
    // Another process sees it, and its collection keeps it.
    const again = await openStore(vm);
    assert.deepEqual(again.resumeFiles(), first);
    assert.deepEqual(await strayEntries(vm.folder), []);

    const second = await suspend(again, 'second');
    assert.deepEqual(again.resumeFiles(), second);
    assert.equal(await readFile(second.stateFile, 'utf8'), 'suspended: second');
    assert.ok(await gone(path.dirname(first.stateFile)), 'the first folder is removed');
    assert.deepEqual(await strayEntries(vm.folder), []);
    // The first store re-reads the tree for its next operation.
    await store.clearResume();
    assert.equal(store.resumeFiles(), null);
    assert.ok(await gone(path.dirname(second.stateFile)));
    assert.equal((await openStore(vm)).tree().suspended, false);
  });

  test('a prepared suspend: files checked, spared by another store, stale after a revert, abandoned', async () => {
    const vm = await freshVm({ disks: 1 });
    const processState = new SnapshotProcessState();
    const store = await openStore(vm, { processState });
    const a = await take(store, 'A');
    const prepared = await store.prepareSuspend();
    await expectStoreError(
      () => store.commitSuspend(prepared),
      'snapshot-files-missing',
      /state\.nbsnap.*ram\.bin/,
    );
    await writeFile(prepared.stateFile, 'state');
    await expectStoreError(
      () => store.commitSuspend(prepared),
      'snapshot-files-missing',
      /ram\.bin/,
    );
    await writeFile(prepared.ramFile, 'ram');
    // Another store in this process leaves the prepared folder alone.
    await openStore(vm, { processState });
    assert.ok((await stat(prepared.directory)).isDirectory());
    // Its disks are not the current ones any more.
    await store.revert(a);
    await expectStoreError(() => store.commitSuspend(prepared), 'suspend-stale');
    await store.abandonSuspend(prepared);
    assert.ok(await gone(prepared.directory));
    assert.deepEqual(await strayEntries(vm.folder), []);
    await expectStoreError(() => store.commitSuspend(prepared), 'invalid-request');
    assert.equal(store.resumeFiles(), null);
    // Abandoned without a commit, a prepared suspend is a leftover for a new process.
    await store.prepareSuspend();
    await openStore(vm);
    assert.deepEqual(await strayEntries(vm.folder), []);
  });

  test('suspendFromSnapshot links the memory files; deleting the snapshot keeps them', async () => {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    const a = await take(store, 'A');
    await stampDisks(store.currentDiskFiles(), 'm');
    const m = await take(store, 'M', 'memory');
    await stampDisks(store.currentDiskFiles(), 'after M');
    await expectStoreError(() => store.suspendFromSnapshot(a), 'snapshot-has-no-memory');
    await store.revert(a);
    await expectStoreError(() => store.suspendFromSnapshot(m), 'snapshot-not-current', /revert/);
    await store.revert(m);
    await store.suspendFromSnapshot(m);
    const resume = store.resumeFiles();
    assert.ok(resume);
    const own = store.snapshotFiles(m);
    for (const [linked, original] of [
      [resume.stateFile, own.stateFile],
      [resume.ramFile, own.ramFile],
    ] as const) {
      const [a1, b1] = await Promise.all([stat(linked), stat(original)]);
      assert.equal(a1.ino, b1.ino, `${linked} is ${original}`);
      assert.equal(a1.nlink, 2);
    }
    const ram = await readFile(own.ramFile);
    // Deleting the snapshot keeps the resume point and its content.
    await store.delete(m, { vmRunning: false });
    assert.deepEqual(store.resumeFiles(), resume);
    assert.equal(await readFile(resume.stateFile, 'utf8'), 'state of M');
    assert.ok((await readFile(resume.ramFile)).equals(ram));
    assert.equal((await stat(resume.ramFile)).nlink, 1);
    assert.deepEqual(await strayEntries(vm.folder), []);
    assert.deepEqual(await missingLayers(vm.folder), []);
  });

  test('revert clears the resume point; take and delete keep it; clearResume', async () => {
    const vm = await freshVm();
    const store = await openStore(vm);
    const a = await take(store, 'A');
    await stampDisks(store.currentDiskFiles(), 'suspended');
    const suspendedDisks = await current(store);
    const resume = await suspend(store, 'one');
    // A take while suspended: the frozen layer holds the disks as suspended, and the new
    // overlays read through to them.
    const b = await take(store, 'B');
    assert.deepEqual(store.resumeFiles(), resume);
    assert.deepEqual(await current(store), suspendedDisks);
    await store.delete(b, { vmRunning: false });
    assert.deepEqual(store.resumeFiles(), resume);
    assert.deepEqual(await current(store), suspendedDisks);
    assert.equal(store.tree().suspended, true);
    // A revert: new disks, so the saved machine goes, in the same commit.
    await store.revert(a);
    assert.equal(store.resumeFiles(), null);
    assert.equal(store.tree().suspended, false);
    assert.equal((await readTreeDocument(vm.folder)).current.resume, null);
    assert.ok(await gone(path.dirname(resume.stateFile)));
    assert.deepEqual(await strayEntries(vm.folder), []);

    const next = await suspend(store, 'two');
    await store.clearResume();
    assert.equal(store.resumeFiles(), null);
    assert.ok(await gone(path.dirname(next.stateFile)));
    const treeFile = path.join(vm.folder, 'snapshots', 'tree.json');
    const before = await readFile(treeFile, 'utf8');
    await store.clearResume();
    assert.equal(await readFile(treeFile, 'utf8'), before, 'nothing to clear: nothing written');
    assert.deepEqual(await strayEntries(vm.folder), []);
  });

  test("opening keeps only the resume point's folder; other suspend folders go", async () => {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    const resume = await suspend(store, 'kept');
    const stray = path.join(vm.folder, 'snapshots', 'suspend-11111111-2222-4333-8444-555555555555');
    await mkdir(stray);
    await writeFile(path.join(stray, 'ram.bin'), 'left over');
    await openStore(vm);
    assert.ok(await gone(stray));
    assert.equal(await readFile(resume.stateFile, 'utf8'), 'suspended: kept');
    assert.deepEqual(await strayEntries(vm.folder), []);
  });
});

describe('the disk list changed after the snapshots were taken', () => {
  test('operations are refused; current files are matched by disk, not by position', async () => {
    const vm = await freshVm();
    const store = await openStore(vm);
    const a = await take(store, 'A');
    const [qcow2Overlay, rawOverlay] = store.currentDiskFiles();
    const added = path.join(vm.folder, 'added.qcow2');
    await addon().imageCreate(added, { format: 'qcow2', size: 1024 * 1024 });
    // The raw disk removed, a new one added, order changed.
    const changed = await openStore({
      folder: vm.folder,
      baseDisks: [added, vm.baseDisks[0] ?? ''],
    });
    assert.equal(changed.problem?.code, 'disk-configuration-changed');
    assert.deepEqual(changed.currentDiskFiles(), [added, qcow2Overlay]);
    assert.notEqual(rawOverlay, undefined);
    await expectStoreError(() => changed.revert(a), 'disk-configuration-changed', /restored/);
    await expectStoreError(
      () => changed.prepareTake({ name: 'x', kind: 'disk' }),
      'disk-configuration-changed',
    );
    await expectStoreError(
      () => changed.delete(a, { vmRunning: false }),
      'disk-configuration-changed',
    );
    assert.match(changed.tree().diskProblem ?? '', /added, removed or replaced/);
    // Renaming touches no disk and still works.
    await changed.rename(a, 'Renamed');
    assert.equal((await openStore(vm)).findByName('Renamed').id, a);
  });

  test('suspending is refused; a resume point waits for the list or is cleared', async () => {
    const vm = await freshVm();
    const store = await openStore(vm);
    const m = await take(store, 'M', 'memory');
    const resume = await suspend(store, 'with two disks');
    const changed = await openStore({ folder: vm.folder, baseDisks: [vm.baseDisks[0] ?? ''] });
    await expectStoreError(() => changed.prepareSuspend(), 'disk-configuration-changed');
    await expectStoreError(() => changed.suspendFromSnapshot(m), 'disk-configuration-changed');
    await expectStoreError(
      () => changed.resumeFiles(),
      'disk-configuration-changed',
      /suspended with the disks disk\.qcow2, data\.raw.*now lists disk\.qcow2\b/s,
    );
    assert.equal(changed.tree().suspended, true);
    // With the list restored it resumes; or the saved machine is given up.
    assert.deepEqual((await openStore(vm)).resumeFiles(), resume);
    await changed.clearResume();
    assert.equal(changed.resumeFiles(), null);
    assert.deepEqual(await strayEntries(vm.folder), []);
  });
});

describe('a tree.json that cannot be used', () => {
  async function vmWithTree() {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    await take(store, 'A');
    await stampDisks(store.currentDiskFiles(), 'more');
    await take(store, 'B');
    return { vm, store, treeFile: path.join(vm.folder, 'snapshots', 'tree.json') };
  }

  async function expectUntouched(vm: TestVm, action: () => Promise<unknown>) {
    const before = await snapshotOfFiles(vm.folder);
    await action();
    assert.deepEqual(await snapshotOfFiles(vm.folder), before, 'no file changed');
  }

  test('not JSON: reported with line and column, nothing touched, no guessing at the overlays', async () => {
    const { vm, treeFile } = await vmWithTree();
    const text = await readFile(treeFile, 'utf8');
    await writeFile(treeFile, text.replace('"snapshots": [', '"snapshots": [,'));
    // A stray file that a healthy open would remove stays too.
    await writeFile(path.join(vm.folder, 'snapshots', 'layers', 'stray.qcow2'), 'x');
    await expectUntouched(vm, async () => {
      const broken = await openStore(vm);
      assert.equal(broken.problem?.code, 'snapshot-tree-corrupt');
      assert.match(broken.problem?.message ?? '', /line \d+, column \d+/);
      await expectStoreError(() => broken.tree(), 'snapshot-tree-corrupt');
      await expectStoreError(
        () => broken.prepareTake({ name: 'x', kind: 'disk' }),
        'snapshot-tree-corrupt',
      );
      await expectStoreError(() => broken.rename('x', 'y'), 'snapshot-tree-corrupt');
      // JSON that does not parse cannot be salvaged: no guessing.
      await expectStoreError(() => broken.currentDiskFiles(), 'snapshot-tree-corrupt');
    });
  });

  test('wrong fields: every issue listed, current overlays salvaged', async () => {
    const { vm, store, treeFile } = await vmWithTree();
    const overlays = store.currentDiskFiles();
    const document = JSON.parse(await readFile(treeFile, 'utf8'));
    document.snapshots[1].parentId = '00000000-0000-4000-8000-000000000000';
    document.snapshots[0].kind = 'live';
    await writeFile(treeFile, JSON.stringify(document));
    await expectUntouched(vm, async () => {
      const broken = await openStore(vm);
      const problem = broken.problem;
      assert.equal(problem?.code, 'snapshot-tree-corrupt');
      assert.match(problem?.message ?? '', /snapshots\[0\]\.kind: must be "memory" or "disk"/);
      assert.match(problem?.message ?? '', /Nothing was changed/);
      assert.deepEqual(broken.currentDiskFiles(), overlays);
      await expectStoreError(
        () => broken.delete('x', { vmRunning: false }),
        'snapshot-tree-corrupt',
      );
    });
  });

  test('a path leaving the snapshots folder is refused and nothing is deleted', async () => {
    const { vm, treeFile } = await vmWithTree();
    for (const escape of ['../disk.qcow2', '/etc/passwd', 'layers/../../disk.qcow2', 'tree.json']) {
      const document = JSON.parse(await readFile(treeFile, 'utf8'));
      document.layers.push({ file: escape, disk: 0, backing: null });
      await writeFile(treeFile, JSON.stringify(document));
      await expectUntouched(vm, async () => {
        const broken = await openStore(vm);
        assert.equal(broken.problem?.code, 'snapshot-tree-corrupt', escape);
        assert.match(
          broken.problem?.message ?? '',
          /stay inside the snapshots folder|not the absolute path|must be "layers\/<name>\.qcow2"/,
        );
      });
      document.layers.pop();
      await writeFile(treeFile, JSON.stringify(document));
    }
    const document = JSON.parse(await readFile(treeFile, 'utf8'));
    document.current.overlays[0] = '../../disk.qcow2';
    await writeFile(treeFile, JSON.stringify(document));
    const broken = await openStore(vm);
    assert.match(broken.problem?.message ?? '', /current\.overlays\[0\]: must stay inside/);
    await expectStoreError(() => broken.currentDiskFiles(), 'snapshot-tree-corrupt');
  });

  test('a resume folder leaving the snapshots folder or of the wrong form: refused, nothing touched', async () => {
    const { vm, store, treeFile } = await vmWithTree();
    await suspend(store, 'real');
    const overlays = store.currentDiskFiles();
    const cases: [unknown, RegExp][] = [
      ['../disk.qcow2', /current\.resume\.folder: must stay inside the snapshots folder/],
      ['suspend-0/../../..', /current\.resume\.folder: must stay inside/],
      [
        '/etc',
        /current\.resume\.folder: must be a folder in the snapshots folder, not the absolute/,
      ],
      ['layers', /current\.resume\.folder: must be "suspend-<lower-case uuid>"/],
      ['tree.json', /current\.resume\.folder: must be "suspend-<lower-case uuid>"/],
      ['suspend-11111111-2222-4333-8444-55555555555A', /must be "suspend-<lower-case uuid>"/],
      ['00000000-0000-4000-8000-000000000000', /must be "suspend-<lower-case uuid>"/],
      [undefined, /current\.resume\.folder: missing/],
    ];
    for (const [folder, message] of cases) {
      const document = JSON.parse(await readFile(treeFile, 'utf8'));
      document.current.resume = folder === undefined ? {} : { folder };
      await writeFile(treeFile, JSON.stringify(document));
      await expectUntouched(vm, async () => {
        const broken = await openStore(vm);
        assert.equal(broken.problem?.code, 'snapshot-tree-corrupt', String(folder));
        assert.match(broken.problem?.message ?? '', message);
        // The VM keeps its overlays, but a suspended state in doubt is neither used nor
        // dropped: booting afresh now and resuming later would break the disks.
        assert.deepEqual(broken.currentDiskFiles(), overlays);
        await expectStoreError(() => broken.resumeFiles(), 'snapshot-tree-corrupt');
        await expectStoreError(() => broken.clearResume(), 'snapshot-tree-corrupt');
        await expectStoreError(() => broken.prepareSuspend(), 'snapshot-tree-corrupt');
      });
    }
  });

  test('a broken tree elsewhere: resumeFiles is null only when it clearly says "not suspended"', async () => {
    const { vm, store, treeFile } = await vmWithTree();
    await suspend(store, 'real');
    const document = JSON.parse(await readFile(treeFile, 'utf8'));
    document.snapshots[0].kind = 'live';
    await writeFile(treeFile, JSON.stringify(document));
    const suspended = await openStore(vm);
    // A resume point cannot be used without committing its removal, which a broken tree
    // does not allow.
    await expectStoreError(() => suspended.resumeFiles(), 'snapshot-tree-corrupt');
    document.current.resume = null;
    await writeFile(treeFile, JSON.stringify(document));
    assert.equal((await openStore(vm)).resumeFiles(), null);
    delete document.current.resume;
    await writeFile(treeFile, JSON.stringify(document));
    assert.equal((await openStore(vm)).resumeFiles(), null);
    // Not JSON at all: no guessing.
    await writeFile(treeFile, '{');
    await expectStoreError(
      async () => (await openStore(vm)).resumeFiles(),
      'snapshot-tree-corrupt',
    );
  });

  test('a newer schema version: "written by a newer Nestbox", files untouched', async () => {
    const { vm, treeFile } = await vmWithTree();
    const document = JSON.parse(await readFile(treeFile, 'utf8'));
    document.schemaVersion = 2;
    document.somethingNew = true;
    await writeFile(treeFile, JSON.stringify(document));
    await expectUntouched(vm, async () => {
      const newer = await openStore(vm);
      assert.equal(newer.problem?.code, 'snapshot-tree-newer');
      assert.match(newer.problem?.message ?? '', /written by a newer Nestbox/);
      await expectStoreError(() => newer.currentDiskFiles(), 'snapshot-tree-newer');
    });
  });

  test('tree.json missing while layers exist: reported, nothing removed', async () => {
    const { vm, treeFile } = await vmWithTree();
    await rm(treeFile);
    await expectUntouched(vm, async () => {
      const lost = await openStore(vm);
      assert.equal(lost.problem?.code, 'snapshot-tree-missing');
      await expectStoreError(() => lost.currentDiskFiles(), 'snapshot-tree-missing');
      await expectStoreError(
        () => lost.prepareTake({ name: 'x', kind: 'disk' }),
        'snapshot-tree-missing',
      );
    });
  });
});

describe('opening collects garbage', () => {
  test('unreferenced layers, folders and temp files go; referenced ones stay', async () => {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    const a = await take(store, 'A', 'memory');
    const snapshots = path.join(vm.folder, 'snapshots');
    await writeFile(path.join(snapshots, 'layers', 'feedface.qcow2'), 'left over');
    await writeFile(path.join(snapshots, '.tree.json.0badc0de.tmp'), '{');
    await mkdir(path.join(snapshots, '11111111-2222-4333-8444-555555555555'));
    await writeFile(path.join(snapshots, 'notes.txt'), 'mine');
    const reopened = await openStore(vm);
    assert.equal(reopened.problem, null);
    assert.deepEqual(await strayEntries(vm.folder), []);
    assert.ok((await stat(reopened.snapshotFiles(a).ramFile)).isFile());
  });

  test('a first take cut short before its commit leaves nothing behind', async () => {
    const vm = await freshVm({ disks: 1 });
    const store = await openStore(vm);
    await store.prepareTake({ name: 'never committed', kind: 'disk' });
    // A new process: the prepared take is a leftover.
    const reopened = await openStore(vm);
    assert.equal(reopened.problem, null);
    assert.deepEqual(await strayEntries(vm.folder), []);
    assert.deepEqual(reopened.currentDiskFiles(), vm.baseDisks);
    assert.deepEqual(reopened.tree().nodes, []);
  });
});

describe('nativeDiskLayerOps', () => {
  test('backing files inside the VM folder are stored relative, others absolute', () => {
    const overlay = '/vms/Alpine/snapshots/layers/ab.qcow2';
    assert.equal(backingReference(overlay, '/vms/Alpine/snapshots/layers/cd.qcow2'), 'cd.qcow2');
    assert.equal(backingReference(overlay, '/vms/Alpine/disk.qcow2'), '../../disk.qcow2');
    assert.equal(backingReference(overlay, '/srv/images/base.raw'), '/srv/images/base.raw');
  });

  test('without imageMergeLayer in the addon, merging fails with a clear message', async () => {
    const ops = nativeDiskLayerOps({
      imageCreate: (file, options) => addon().imageCreate(file, options),
      imageInfo: (file) => addon().imageInfo(file),
    });
    await assert.rejects(async () => ops.mergeLayer('/a', '/b'), /cannot merge disk layers/);
    const vm = await freshVm({ disks: 1 });
    await ops.createOverlay(path.join(vm.folder, 'over.qcow2'), vm.baseDisks[0] ?? '');
    const info = await addon().imageInfo(path.join(vm.folder, 'over.qcow2'));
    assert.equal(info.backingFile, 'disk.qcow2');
    assert.ok((await ops.fileBytes(path.join(vm.folder, 'over.qcow2'))) > 0);
  });
});
