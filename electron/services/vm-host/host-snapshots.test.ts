/**
 * Snapshots of running VMs, end to end without /dev/kvm: real VM host processes (started by
 * VmHostRegistry) around the scripted counting machine (electron/serve/testing), the real
 * snapshot store and real qcow2 layers, driven through `nestbox snapshot …` and VmSnapshots.
 *
 * The machine adds one to a counter every 20 ms, prints "count <n>" and writes n into sector
 * 0 of its disk; when it continues a saved state it prints what it continues and what its
 * disk holds ("restored <c> disk <d>"). So "reverting to a snapshot taken at N continues at
 * N + 1 on a disk holding N" is checked from what the guest sees.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { LibraryVm } from '../library/vm-library.ts';
import { readTreeDocument } from '../snapshots/test-disks.ts';
import type { SnapshotNode, SnapshotTree } from '../snapshots/snapshot-store.ts';
import { savedCounter } from '../../serve/testing/counting-state-file.ts';
import {
  GuestWatch,
  baseDisks,
  cliHostEnv,
  createCountingVm,
  nestbox,
  openAndCheckStore,
  openCountingStack,
  processGone,
  qcow2Files,
  qemuImgCheck,
  sectorCounter,
  until,
  type CountingStack,
} from '../../serve/testing/counting-vm-harness.ts';
import { SCRIPTED_MERGE_MS } from '../../serve/testing/scripted-machines.ts';
import { readLastExit, vmLogPath } from './runtime-files.ts';
import { VmHostError } from './vm-host-client.ts';

let stack: CountingStack;
const watches: GuestWatch[] = [];

before(async () => {
  stack = await openCountingStack();
});

after(async () => {
  for (const watch of watches) watch.destroy();
  await stack?.close();
});

async function startVm(vm: LibraryVm): Promise<{ watch: GuestWatch; pid: number }> {
  const { pid } = await stack.services.registry.start(vm);
  return { watch: await watchVm(vm), pid };
}

async function watchVm(vm: LibraryVm): Promise<GuestWatch> {
  const watch = await GuestWatch.open(stack.services, vm);
  watches.push(watch);
  return watch;
}

async function state(vm: LibraryVm): Promise<string> {
  return (await stack.services.registry.status(vm)).state;
}

/** Powers the VM off and waits for its host to finish (layers collected, files written). */
async function stopVm(vm: LibraryVm, watch: GuestWatch, pid: number): Promise<void> {
  await watch.client.call('powerOff');
  await processGone(pid);
  assert.equal(await state(vm), 'off');
}

async function cli(args: string[], env = stack.env) {
  const run = await nestbox(env, args);
  assert.equal(run.status, 0, `nestbox ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return run;
}

async function cliJson<T>(args: string[]): Promise<T> {
  return JSON.parse((await cli([...args, '--json'])).stdout) as T;
}

/** The file holding snapshot `id`'s layer of disk 0 (the base disk for a root snapshot). */
async function layerOf(vm: LibraryVm, id: string): Promise<string> {
  const document = await readTreeDocument(vm.folder);
  const snapshot = document.snapshots.find((s) => s.id === id);
  assert.ok(snapshot, `snapshot ${id} is in tree.json`);
  const layer = snapshot.diskLayers[0];
  return layer ? path.join(vm.folder, 'snapshots', layer) : (baseDisks(vm)[0] ?? '');
}

/**
 * Takes a snapshot of the running VM through VmSnapshots; returns it with the counter it saved
 * (what the machine continued with on the new overlays, which its state file must hold too).
 */
async function takeRunning(vm: LibraryVm, watch: GuestWatch, name: string) {
  const mark = watch.mark();
  const progress: [number, number][] = [];
  const taken = await stack.snapshots.take(vm, name, {
    onProgress: (done, total) => progress.push([done, total]),
  });
  assert.equal(taken.withMemory, true);
  assert.equal(taken.snapshot.kind, 'memory');
  const { line, next } = await watch.continued(mark, 'switched');
  assert.equal(line.disk, line.counter, 'the frozen disk holds what the machine counted');
  assert.equal(next, line.counter + 1, 'a running VM runs on after a take');
  const last = progress.at(-1);
  assert.ok(last && last[0] === last[1] && last[1] === 64 * 1024 * 1024, 'progress up to 64 MiB');
  const stateFile = path.join(vm.folder, 'snapshots', taken.snapshot.id, 'state.nbsnap');
  assert.equal(savedCounter(stateFile), line.counter);
  assert.equal(await sectorCounter(await layerOf(vm, taken.snapshot.id)), line.counter);
  return { node: taken.snapshot, counter: line.counter };
}

/** Reverts the running VM and checks it continues at saved + 1 on a disk holding `saved`. */
async function revertRunning(vm: LibraryVm, watch: GuestWatch, name: string, saved: number) {
  const mark = watch.mark();
  const result = await stack.snapshots.revert(vm, name);
  assert.equal(result.state, 'running');
  const { line, next } = await watch.continued(mark, 'restored');
  assert.deepEqual({ counter: line.counter, disk: line.disk }, { counter: saved, disk: saved });
  assert.equal(next, saved + 1, 'the first count after the revert');
  return result;
}

function byName(tree: SnapshotTree, name: string): SnapshotNode {
  const node = tree.nodes.find((n) => n.name === name);
  assert.ok(node, `snapshot "${name}" is in the tree`);
  return node;
}

test('a take keeps a paused VM paused; a revert continues at the saved count on the saved disk', async () => {
  const vm = await createCountingVm(stack, 'take-revert');
  const { watch } = await startVm(vm);
  assert.deepEqual(await watch.started(), { kind: 'boot', disk: 0 });
  await watch.waitForCount(3);
  assert.equal((await watch.client.call('pause')).state, 'paused');
  const saved = watch.lastCount() ?? -1;

  const mark = watch.mark();
  const taken = await cliJson<{ snapshot: SnapshotNode; withMemory: boolean }>([
    'snapshot',
    'take',
    'take-revert',
    'A',
    '--description',
    'paused at a known count',
  ]);
  assert.equal(taken.withMemory, true);
  assert.deepEqual(
    [taken.snapshot.name, taken.snapshot.kind, taken.snapshot.description],
    ['A', 'memory', 'paused at a known count'],
  );
  // Still paused: the disks switched under it and nothing ran.
  assert.equal(await state(vm), 'paused');
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual(watch.lines.slice(mark), [{ kind: 'switched', counter: saved, disk: saved }]);
  assert.equal(
    savedCounter(path.join(vm.folder, 'snapshots', taken.snapshot.id, 'state.nbsnap')),
    saved,
  );
  // The first snapshot's layer is the base disk, frozen at the saved count.
  assert.equal(await layerOf(vm, taken.snapshot.id), baseDisks(vm)[0]);
  assert.equal(await sectorCounter(baseDisks(vm)[0] ?? ''), saved);

  await watch.client.call('resume');
  await watch.waitForCount(saved + 5);
  const revertMark = watch.mark();
  const reverted = await cliJson<{ state: string; snapshot: SnapshotNode }>([
    'snapshot',
    'revert',
    'take-revert',
    'A',
  ]);
  assert.equal(reverted.state, 'running');
  const { line, next } = await watch.continued(revertMark, 'restored');
  assert.deepEqual(line, { kind: 'restored', counter: saved, disk: saved });
  assert.equal(next, saved + 1);
  assert.equal(await state(vm), 'running');
  // It counts on from there, writing its new overlay (the snapshot's layer stays as it was).
  await watch.waitForCount(saved + 4);
  assert.equal(await sectorCounter(baseDisks(vm)[0] ?? ''), saved);
  const list = await cliJson<SnapshotTree>(['snapshot', 'list', 'take-revert']);
  assert.equal(list.currentId, taken.snapshot.id);
  assert.equal(list.suspended, false);
});

test('a tree A → B, revert A, branch C, revert B, C and A again: each continues where it was', async () => {
  const vm = await createCountingVm(stack, 'branches');
  const { watch } = await startVm(vm);
  await watch.waitForCount(2);
  const a = await takeRunning(vm, watch, 'A');
  // B well past A (a second of counting), so C, taken soon after going back to A, is below B
  // however slowly this machine runs the steps in between.
  await watch.waitForCount(a.counter + 50);
  const b = await takeRunning(vm, watch, 'B');
  await watch.waitForCount(b.counter + 5);
  await revertRunning(vm, watch, 'A', a.counter);
  await watch.waitForCount(a.counter + 3);
  const c = await takeRunning(vm, watch, 'C');
  assert.ok(c.counter < b.counter, 'C is on another branch, at a lower count than B');

  let tree = await stack.snapshots.list(vm);
  assert.deepEqual(byName(tree, 'A').children, [b.node.id, c.node.id]);
  assert.equal(byName(tree, 'B').parentId, a.node.id);
  assert.equal(byName(tree, 'C').parentId, a.node.id);
  assert.equal(tree.currentId, c.node.id);

  await watch.waitForCount(c.counter + 4);
  await revertRunning(vm, watch, 'B', b.counter);
  await watch.waitForCount(b.counter + 4);
  await revertRunning(vm, watch, c.node.id, c.counter);
  await revertRunning(vm, watch, 'A', a.counter);
  tree = await stack.snapshots.list(vm);
  assert.equal(tree.currentId, a.node.id);
  assert.equal(tree.nodes.length, 3);

  // Rename (and describe) through the CLI, on the running VM's host.
  const renamed = await cliJson<SnapshotNode>([
    'snapshot',
    'rename',
    'branches',
    'B',
    'B two',
    '--description',
    'the first branch',
  ]);
  assert.deepEqual(
    [renamed.id, renamed.name, renamed.description],
    [b.node.id, 'B two', 'the first branch'],
  );
  const text = (await cli(['snapshot', 'list', 'branches'])).stdout;
  assert.match(text, /^ {2}B two {2}\(with memory, /m);
  assert.match(text, /^A {2}\(with memory, [^\n]*\n {2}→ you are here$/m);
  await revertRunning(vm, watch, 'B two', b.counter);

  // A text take reports its progress on stderr.
  const take = await cli(['snapshot', 'take', 'branches', 'D']);
  assert.match(take.stdout, /took snapshot "D" of "branches" \(with memory; id /);
  assert.match(take.stderr, /saving memory: 100%/);
});

test('snapshots deleted while the VM runs wait as retained layers; stopping it merges them', async () => {
  const vm = await createCountingVm(stack, 'delete');
  const { watch, pid } = await startVm(vm);
  await watch.waitForCount(2);
  const a = await takeRunning(vm, watch, 'A');
  await watch.waitForCount(a.counter + 3);
  const b = await takeRunning(vm, watch, 'B');
  await watch.waitForCount(b.counter + 3);
  const c = await takeRunning(vm, watch, 'C');
  await watch.waitForCount(c.counter + 3);

  // B's layer lies under C's, which the VM has open; C's under the VM's overlay.
  const mark = watch.mark();
  // The host reports the delete's progress (operation 'delete'): nothing to merge while the
  // VM pins B's layer, so (0, 0).
  const deleteProgress: [number, number][] = [];
  const deletedB = await stack.snapshots.delete(vm, 'B', {
    onProgress: (done, total) => deleteProgress.push([done, total]),
  });
  assert.equal(deletedB.snapshot.id, b.node.id);
  assert.equal(deletedB.retainedLayers, 1);
  assert.deepEqual(deleteProgress, [[0, 0]]);
  const deletedC = await cliJson<{ retainedLayers: number }>(['snapshot', 'delete', 'delete', 'C']);
  assert.equal(deletedC.retainedLayers, 2);
  const tree = await stack.snapshots.list(vm);
  assert.deepEqual(
    tree.nodes.map((node) => node.name),
    ['A'],
  );
  assert.equal(tree.retainedLayers, 2);
  assert.equal(tree.currentId, a.node.id, 'the current state descends from A now');
  assert.match(
    (await cli(['snapshot', 'list', 'delete'])).stdout,
    /2 disk layer\(s\) of deleted snapshots merge when the VM stops/,
  );
  await watch.waitForCount((watch.lastCount() ?? 0) + 3);
  assert.ok(watch.ranOn(mark), 'the VM ran on, untouched, while the snapshots went');

  await stopVm(vm, watch, pid);
  const last = watch.lastCount() ?? -1;
  const store = await openAndCheckStore(vm);
  assert.equal(store.tree().retainedLayers, 0, 'the host merged them when the VM stopped');
  assert.deepEqual(
    store.tree().nodes.map((node) => node.name),
    ['A'],
  );
  assert.match(
    readFileSync(vmLogPath(vm.folder), 'utf8'),
    /merged the disk layers of deleted snapshots/,
  );
  const files = await qcow2Files(vm);
  assert.equal(files.length, 2, 'the base disk and the current overlay are all that is left');
  for (const file of files) {
    const check = qemuImgCheck(file);
    assert.equal(check.status, 0, `qemu-img check ${file}: ${check.output}`);
  }
  // Nothing was lost in the merges: the current disk holds the last count, A its own.
  assert.equal(await sectorCounter(store.currentDiskFiles()[0] ?? ''), last);
  assert.equal(await sectorCounter(baseDisks(vm)[0] ?? ''), a.counter);

  const again = await startVm(vm);
  assert.deepEqual(await again.watch.started(), { kind: 'boot', disk: last });
  await again.watch.waitForCount(2);
  await revertRunning(vm, again.watch, 'A', a.counter);
});

test("a disk-only revert powers the VM off; it boots afresh on the snapshot's disks", async () => {
  const vm = await createCountingVm(stack, 'disk-only');
  let run = await startVm(vm);
  await run.watch.waitForCount(3);
  await stopVm(vm, run.watch, run.pid);
  const offCount = run.watch.lastCount() ?? -1;

  const taken = await stack.snapshots.take(vm, 'powered off');
  assert.equal(taken.withMemory, false);
  assert.equal(taken.snapshot.kind, 'disk');
  run = await startVm(vm);
  assert.deepEqual(await run.watch.started(), { kind: 'boot', disk: offCount });
  await run.watch.waitForCount(5);
  const m = await takeRunning(vm, run.watch, 'memory');
  await run.watch.waitForCount(m.counter + 3);

  const reverted = await stack.snapshots.revert(vm, 'powered off');
  assert.equal(reverted.state, 'stopped');
  await processGone(run.pid);
  assert.equal(await state(vm), 'off');
  assert.equal((await readLastExit(vm.folder))?.reason, 'powered-off');
  const store = await openAndCheckStore(vm);
  assert.equal(store.tree().currentId, taken.snapshot.id);
  assert.equal(store.tree().suspended, false);

  run = await startVm(vm);
  assert.deepEqual(await run.watch.started(), { kind: 'boot', disk: offCount });
  await run.watch.waitForCount(2);
  await revertRunning(vm, run.watch, 'memory', m.counter);
});

test('suspend: the VM stops as suspended and its next start continues it', async () => {
  const vm = await createCountingVm(stack, 'suspend');
  let run = await startVm(vm);
  await run.watch.waitForCount(3);
  await run.watch.client.call('pause');
  const paused = run.watch.lastCount() ?? -1;
  assert.match((await cli(['suspend', 'suspend'])).stdout, /Suspended "suspend"/);
  await processGone(run.pid);
  assert.equal(await state(vm), 'suspended');
  assert.equal((await readLastExit(vm.folder))?.reason, 'suspended');
  let store = await openAndCheckStore(vm);
  assert.equal(store.tree().suspended, true);
  const resume = store.resumeFiles();
  assert.ok(resume);
  assert.equal(savedCounter(resume.stateFile), paused);
  assert.equal(await sectorCounter(store.currentDiskFiles()[0] ?? ''), paused);

  run = await startVm(vm);
  assert.deepEqual(await run.watch.started(), { kind: 'resumed', counter: paused, disk: paused });
  assert.equal((await run.watch.continued(0, 'resumed')).next, paused + 1);
  assert.equal(await state(vm), 'running');
  assert.equal((await stack.snapshots.list(vm)).suspended, false, 'the resume point is used up');
  const suspendFolders = () =>
    readdirSync(path.join(vm.folder, 'snapshots')).filter((name) => name.startsWith('suspend-'));
  assert.deepEqual(suspendFolders(), []);

  // Running (not paused) this time, and back through `nestbox resume` with the CLI's own
  // registry (the scripted host found through NESTBOX_VM_HOST).
  await run.watch.waitForCount(paused + 5);
  await cli(['suspend', 'suspend']);
  await processGone(run.pid);
  await until('the last lines', () => !run.watch.client.isOpen);
  const running = run.watch.lastCount() ?? -1;
  assert.ok(running >= paused + 5);
  store = await openAndCheckStore(vm);
  assert.equal(savedCounter(store.resumeFiles()?.stateFile ?? ''), running);
  const resumed = await cli(['resume', 'suspend'], cliHostEnv(stack.env));
  assert.match(resumed.stdout, /Resumed "suspend" from its suspended state/);
  const watch = await watchVm(vm);
  assert.deepEqual(await watch.started(), { kind: 'resumed', counter: running, disk: running });
  assert.equal((await watch.continued(0, 'resumed')).next, running + 1);
  assert.equal(await state(vm), 'running');

  // `start --discard-suspended` boots afresh, on the disks as they were.
  await watch.waitForCount(running + 3);
  await cli(['suspend', 'suspend']);
  await until('the VM to be suspended', async () => (await state(vm)) === 'suspended');
  await until('the last lines', () => !watch.client.isOpen);
  const discarded = watch.lastCount() ?? -1;
  const started = await cli(['start', 'suspend', '--discard-suspended'], cliHostEnv(stack.env));
  assert.match(started.stderr, /discarded the suspended state of "suspend"/);
  const fresh = await watchVm(vm);
  assert.deepEqual(await fresh.started(), { kind: 'boot', disk: discarded });
  assert.deepEqual(suspendFolders(), []);
  await fresh.client.call('powerOff');
});

test('reverting to a memory snapshot while the VM is off leaves it suspended there', async () => {
  const vm = await createCountingVm(stack, 'revert-off');
  let run = await startVm(vm);
  await run.watch.waitForCount(2);
  const a = await takeRunning(vm, run.watch, 'A');
  await run.watch.waitForCount(a.counter + 5);
  await stopVm(vm, run.watch, run.pid);

  const reverted = await stack.snapshots.revert(vm, 'A');
  assert.equal(reverted.state, 'suspended');
  assert.equal(await state(vm), 'suspended');
  const store = await openAndCheckStore(vm);
  assert.equal(store.tree().currentId, a.node.id);
  assert.equal(store.tree().suspended, true);

  run = await startVm(vm);
  assert.deepEqual(await run.watch.started(), {
    kind: 'resumed',
    counter: a.counter,
    disk: a.counter,
  });
  assert.equal((await run.watch.continued(0, 'resumed')).next, a.counter + 1);
  assert.equal(await state(vm), 'running');
  assert.equal((await stack.snapshots.list(vm)).suspended, false);

  // The resume point's files are its own: deleting the snapshot after reverting leaves them.
  await run.watch.waitForCount(a.counter + 4);
  await stopVm(vm, run.watch, run.pid);
  assert.equal((await stack.snapshots.revert(vm, 'A')).state, 'suspended');
  const deleted = await stack.snapshots.delete(vm, 'A');
  assert.equal(deleted.retainedLayers, 0);
  assert.equal(await state(vm), 'suspended');
  run = await startVm(vm);
  assert.deepEqual(await run.watch.started(), {
    kind: 'resumed',
    counter: a.counter,
    disk: a.counter,
  });
  await run.watch.waitForCount(a.counter + 2);
});

test('an unusable snapshot is refused before anything changes; the VM runs on', async () => {
  const vm = await createCountingVm(stack, 'unusable');
  const { watch, pid } = await startVm(vm);
  await watch.waitForCount(2);
  const a = await takeRunning(vm, watch, 'A');
  await watch.waitForCount(a.counter + 3);
  const b = await takeRunning(vm, watch, 'B');
  await watch.waitForCount(b.counter + 3);
  const before = await readTreeDocument(vm.folder);

  // A flipped byte in A's state file: its checksum no longer matches.
  const stateFile = path.join(vm.folder, 'snapshots', a.node.id, 'state.nbsnap');
  const bytes = readFileSync(stateFile);
  bytes[20] = (bytes[20] ?? 0) ^ 0x20;
  writeFileSync(stateFile, bytes);
  let mark = watch.mark();
  await assert.rejects(stack.snapshots.revert(vm, 'A'), (error: unknown) => {
    assert.ok(error instanceof VmHostError);
    assert.equal(error.code, 'snapshot-error');
    assert.match(error.message, /bad-checksum/);
    return true;
  });
  const refused = await nestbox(stack.env, ['snapshot', 'revert', 'unusable', 'A']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /state\.nbsnap.*bad-checksum/);
  await watch.waitForCount((watch.lastCount() ?? 0) + 5);
  assert.ok(watch.ranOn(mark), 'the VM ran on, untouched');
  assert.equal(await state(vm), 'running');
  assert.deepEqual(await readTreeDocument(vm.folder), before, 'the tree did not change');

  // B's RAM cut short.
  truncateSync(path.join(vm.folder, 'snapshots', b.node.id, 'ram.bin'), 4096);
  mark = watch.mark();
  await assert.rejects(stack.snapshots.revert(vm, 'B'), {
    code: 'snapshot-error',
    message: /truncated/,
  });
  await watch.waitForCount((watch.lastCount() ?? 0) + 3);
  assert.ok(watch.ranOn(mark));
  assert.deepEqual(await readTreeDocument(vm.folder), before);

  // Off, too: refused, the VM stays off and not suspended.
  await stopVm(vm, watch, pid);
  await assert.rejects(stack.snapshots.revert(vm, 'A'), {
    code: 'SNAPSHOT_UNUSABLE',
    snapshotProblem: 'bad-checksum',
  });
  assert.equal(await state(vm), 'off');
  const store = await openAndCheckStore(vm);
  assert.equal(store.tree().currentId, b.node.id);
  assert.equal(store.tree().suspended, false);
});

/** Starts, counts a little, pauses and suspends the VM; returns the count it saved. */
async function suspendAt(vm: LibraryVm): Promise<number> {
  const { watch, pid } = await startVm(vm);
  await watch.waitForCount(3);
  await watch.client.call('pause');
  const saved = watch.lastCount() ?? -1;
  await watch.client.call('suspend');
  await processGone(pid);
  assert.equal(await state(vm), 'suspended');
  return saved;
}

test('a suspended VM whose hardware changed starts only once its saved state is discarded', async () => {
  const vm = await createCountingVm(stack, 'changed');
  const saved = await suspendAt(vm);
  await stack.services.library.update(vm.id, { hardware: { memoryMiB: 128 } });

  await assert.rejects(stack.services.registry.start(vm), (error: unknown) => {
    assert.equal((error as { code?: string }).code, 'suspended-state-unusable');
    assert.match((error as Error).message, /mismatch/);
    assert.match((error as Error).message, /--discard-suspended/);
    return true;
  });
  assert.equal(await state(vm), 'suspended', 'still suspended: nothing was given up');
  const store = await openAndCheckStore(vm);
  assert.equal(savedCounter(store.resumeFiles()?.stateFile ?? ''), saved);

  const started = await cli(['start', 'changed', '--discard-suspended'], cliHostEnv(stack.env));
  assert.match(started.stderr, /discarded the suspended state of "changed"/);
  const watch = await watchVm(vm);
  assert.deepEqual(await watch.started(), { kind: 'boot', disk: saved });
  await watch.client.call('powerOff');
});

test('a suspended VM whose tree.json is broken does not boot afresh; repaired, it continues', async () => {
  const vm = await createCountingVm(stack, 'broken-tree');
  const saved = await suspendAt(vm);
  const treeFile = path.join(vm.folder, 'snapshots', 'tree.json');
  const intact = readFileSync(treeFile, 'utf8');
  // Valid JSON with a field this version does not know: the current overlays and the resume
  // point can be read, but the tree cannot be changed, so the resume point cannot be used up.
  writeFileSync(treeFile, JSON.stringify({ ...JSON.parse(intact), addedLater: true }));
  await assert.rejects(stack.services.registry.start(vm), { code: 'suspended-state-unusable' });
  assert.equal(readFileSync(treeFile, 'utf8').includes('addedLater'), true, 'left as it was');
  // Not JSON at all.
  writeFileSync(treeFile, intact.slice(0, 20));
  await assert.rejects(stack.services.registry.start(vm));
  assert.notEqual(await state(vm), 'running');

  writeFileSync(treeFile, intact);
  assert.equal(await state(vm), 'suspended');
  const { watch } = await startVm(vm);
  assert.deepEqual(await watch.started(), { kind: 'resumed', counter: saved, disk: saved });
  await watch.client.call('powerOff');
});

test('a VM whose host died after committing a suspend is still suspended', async () => {
  // Merging slowly keeps the host in its last steps (after the commit) long enough to kill it.
  const slow = await openCountingStack({ [SCRIPTED_MERGE_MS]: '3000' });
  try {
    const vm = await createCountingVm(slow, 'died');
    const { pid } = await slow.services.registry.start(vm);
    const watch = await GuestWatch.open(slow.services, vm);
    watches.push(watch);
    await watch.waitForCount(2);
    await slow.snapshots.take(vm, 'A');
    await slow.snapshots.take(vm, 'B');
    assert.equal((await slow.snapshots.delete(vm, 'B')).retainedLayers, 1);
    await watch.client.call('pause');
    const saved = watch.lastCount() ?? -1;
    await watch.client.call('suspend');
    await until(
      'last-exit.json',
      async () => (await readLastExit(vm.folder))?.reason === 'suspended',
    );
    process.kill(pid, 'SIGKILL');
    await processGone(pid);
    const store = await openAndCheckStore(vm);
    assert.equal(savedCounter(store.resumeFiles()?.stateFile ?? ''), saved);

    assert.equal((await slow.services.registry.status(vm)).state, 'suspended');
    const started = await nestbox(cliHostEnv(slow.env), ['start', 'died', '--discard-suspended']);
    assert.equal(started.status, 0, started.stderr);
    const after = await GuestWatch.open(slow.services, vm);
    watches.push(after);
    assert.deepEqual(await after.started(), { kind: 'boot', disk: saved });
    await after.client.call('powerOff');
  } finally {
    await slow.close();
  }
});
