/**
 * `nestbox snapshot take|list|revert|delete|rename` on a VM that is off (no VM host, no
 * /dev/kvm): the CLI runs in this process (runCli with the real commands, captured output) on
 * a library in a temporary NESTBOX_HOME. The VM's disk gets known bytes written into it with
 * the addon between the commands, and is read back after each revert:
 *
 *   P1 ─ take A ─ P2 ─ take B ─ revert A ─ P3 ─ take C ─ revert B
 *
 * so A is a root with the children B and C. Then rename, delete A (a parent: its children
 * keep their content), delete C while the VM is at C (its layer merged into the current
 * state), and `qemu-img check` on every file. Errors exit 1 (no such VM or snapshot) or 2
 * (bad arguments).
 */
import {
  runNestbox,
  runNestboxJson,
  runNestboxOk,
  type CliResult,
} from '../testing/run-nestbox.ts';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuests } from '../../../native/test/guests/build-guests.ts';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import type { NativeAddon } from '../../services/native/native-addon.ts';
import { nativeDiskLayerOps } from '../../services/snapshots/disk-layer-ops.ts';
import { SnapshotStore, type SnapshotTree } from '../../services/snapshots/snapshot-store.ts';

const MiB = 1024 * 1024;
const DISK_SIZE = 64 * MiB;
const VM = 'snap vm';

let addon: NativeAddon;
let kernel: string;
let home: string;
let env: NodeJS.ProcessEnv;
let vmFolder: string;
let baseDisk: string;

/** Runs `nestbox ARGS…` as the executable does, with its output captured. */
async function nestbox(args: string[]): Promise<CliResult> {
  return runNestbox(env, args);
}

function ok(args: string[]): Promise<CliResult> {
  return runNestboxOk(env, args);
}

function json<T>(args: string[]): Promise<T> {
  return runNestboxJson<T>(env, args);
}

async function fails(args: string[], status: number, message: RegExp): Promise<CliResult> {
  const run = await nestbox(args);
  assert.equal(run.status, status, `nestbox ${args.join(' ')}: ${run.stdout}${run.stderr}`);
  assert.match(run.stderr, message, `nestbox ${args.join(' ')}`);
  assert.doesNotMatch(run.stderr, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace');
  return run;
}

const tree = (vm = VM) => json<SnapshotTree>(['snapshot', 'list', vm]);

async function stateOf(name: string): Promise<string | undefined> {
  const listed = await json<{ vms: { name: string; state: string }[] }>(['list']);
  return listed.vms.find((vm) => vm.name === name)?.state;
}

function idOf(snapshots: SnapshotTree, name: string): string {
  const node = snapshots.nodes.find((candidate) => candidate.name === name);
  assert.ok(node, `a snapshot named ${name} in ${JSON.stringify(snapshots)}`);
  return node.id;
}

// ---- what is on the disk ----

/**
 * Regions of the disk the test writes: the first sector, one across a 64 KiB cluster boundary
 * near 1 MiB, one across a boundary at 40 MiB, and the last sector.
 */
const REGIONS = [
  { offset: 0, length: 4096 },
  { offset: MiB - 4096, length: 8192 },
  { offset: 40 * MiB - 512, length: 64 * 1024 + 1024 },
  { offset: DISK_SIZE - 512, length: 512 },
] as const;

/** What a state holds in each region: the label of the write that put it there, or zeroes. */
type DiskState = readonly (string | null)[];

/** The bytes `label` writes into region `index`: never zero, different for every pair. */
function stamp(label: string, index: number): Buffer {
  const { length } = REGIONS[index] ?? { length: 0 };
  const bytes = Buffer.alloc(length);
  for (let block = 0; block * 32 < length; block += 1) {
    createHash('sha256')
      .update(`${label}/${index}/${block}`)
      .digest()
      .copy(bytes, block * 32);
  }
  return bytes;
}

/** Writes `label` into the regions `indexes` of the VM's current disk; returns the new state. */
async function write(from: DiskState, label: string, indexes: number[]): Promise<DiskState> {
  const file = await currentDisk();
  for (const index of indexes) {
    const region = REGIONS[index];
    assert.ok(region);
    await addon.imageWrite(file, region.offset, stamp(label, index));
  }
  return from.map((held, index) => (indexes.includes(index) ? label : held));
}

function openStore(folder = vmFolder): Promise<SnapshotStore> {
  return SnapshotStore.open(folder, [path.join(folder, 'disk.qcow2')], nativeDiskLayerOps(addon));
}

/** The file the VM would open now (the store's current overlay, or the base disk). */
async function currentDisk(): Promise<string> {
  const [file] = (await openStore()).currentDiskFiles();
  assert.ok(file, 'a current disk file');
  return file;
}

/** Reads the whole disk in 8 MiB pieces and compares it with `state`, zeroes elsewhere. */
async function assertDiskHolds(file: string, state: DiskState, what: string): Promise<void> {
  const info = await addon.imageInfo(file);
  assert.equal(info.virtualSize, DISK_SIZE, `${what}: the disk's size`);
  const piece = 8 * MiB;
  for (let start = 0; start < DISK_SIZE; start += piece) {
    const actual = Buffer.from(await addon.imageRead(file, start, piece));
    const expected = Buffer.alloc(piece);
    for (const [index, region] of REGIONS.entries()) {
      const label = state[index];
      if (!label) continue;
      const from = Math.max(region.offset, start);
      const to = Math.min(region.offset + region.length, start + piece);
      if (from >= to) continue;
      stamp(label, index).copy(expected, from - start, from - region.offset, to - region.offset);
    }
    if (!actual.equals(expected)) {
      let at = 0;
      while (actual[at] === expected[at]) at += 1;
      const region = REGIONS.findIndex(
        (r) => start + at >= r.offset && start + at < r.offset + r.length,
      );
      assert.fail(
        `${what}: ${file} differs at byte ${start + at} (region ${region}); expected ` +
          `${JSON.stringify(state)}, ` +
          `it holds ${region >= 0 ? describeRegion(actual, start, region) : 'not zero'}`,
      );
    }
  }
}

/** Which label a region of `bytes` (read from `start`) holds, for failure messages. */
function describeRegion(bytes: Buffer, start: number, index: number): string {
  const region = REGIONS[index];
  if (!region) return '?';
  const from = region.offset - start;
  const head = bytes.subarray(Math.max(0, from), Math.max(0, from) + 32);
  for (const label of ['P1', 'P2', 'P3']) {
    if (head.equals(stamp(label, index).subarray(0, head.length))) return label;
  }
  return head.every((byte) => byte === 0) ? 'zeroes' : 'other bytes';
}

async function assertCurrentHolds(state: DiskState, what: string): Promise<void> {
  await assertDiskHolds(await currentDisk(), state, what);
}

function qemuImgCheck(file: string): void {
  const run = spawnSync('qemu-img', ['check', file], { encoding: 'utf8' });
  assert.equal(run.status, 0, `qemu-img check ${file}:\n${run.stdout}${run.stderr}`);
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

// The states the snapshots hold (REGIONS order).
const EMPTY: DiskState = [null, null, null, null];
let atA: DiskState;
let atB: DiskState;
let atC: DiskState;
/** The base disk's bytes once A froze it: nothing may change it afterwards. */
let frozenBase: string;

before(async () => {
  const qemuImg = spawnSync('qemu-img', ['--version'], { encoding: 'utf8' });
  assert.equal(qemuImg.status, 0, 'these tests need qemu-img (Debian package qemu-utils)');
  addon = loadNativeAddon();
  kernel = buildGuests().elf.hello;
  home = mkdtempSync(path.join(tmpdir(), 'nestbox-cli-snapshot-'));
  env = {
    PATH: process.env.PATH,
    NESTBOX_HOME: home,
    HOME: path.join(home, 'home'),
    XDG_DATA_HOME: path.join(home, 'home', '.local', 'share'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
  };
});

after(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('nestbox snapshot, on a VM that is off', () => {
  test('--help exits 0; a VM without snapshots lists none', async () => {
    const help = await ok(['snapshot', '--help']);
    assert.match(help.stdout, /^Usage: nestbox snapshot take NAME SNAPSHOT/);
    for (const sub of ['take', 'list', 'revert', 'delete', 'rename']) {
      assert.match(help.stdout, new RegExp(`nestbox snapshot ${sub} NAME`), sub);
    }
    assert.match((await ok(['snapshot', 'take', '--help'])).stdout, /^Usage: nestbox snapshot/);

    const created = await json<{ id: string; name: string; folder: string }>([
      'create',
      VM,
      '--kernel',
      kernel,
      '--memory',
      '64',
      '--disk-size',
      '64M',
    ]);
    assert.equal(created.name, VM);
    vmFolder = created.folder;
    baseDisk = path.join(vmFolder, 'disk.qcow2');
    assert.equal(await currentDisk(), baseDisk, 'before the first snapshot: the base disk');

    const empty = await tree();
    assert.deepEqual(
      [empty.nodes, empty.roots, empty.currentId, empty.retainedLayers, empty.diskProblem],
      [[], [], null, 0, null],
    );
    const human = await ok(['snapshot', 'list', VM]);
    assert.equal(human.stdout, 'no snapshots\n');
  });

  test('take A: disks only (--json says withMemory false); A is "you are here"', async () => {
    atA = await write(EMPTY, 'P1', [0, 1, 2, 3]);
    await assertCurrentHolds(atA, 'after writing P1');
    const taken = await json<{
      snapshot: { id: string; name: string; kind: string; parentId: string | null };
      withMemory: boolean;
    }>(['snapshot', 'take', VM, 'A', '--description', 'first']);
    assert.equal(taken.withMemory, false);
    assert.equal(taken.snapshot.name, 'A');
    assert.equal(taken.snapshot.kind, 'disk');
    assert.equal(taken.snapshot.parentId, null);
    assert.match(taken.snapshot.id, /^[0-9a-f-]{36}$/);

    const after = await tree();
    assert.equal(after.currentId, taken.snapshot.id);
    assert.deepEqual(after.roots, [taken.snapshot.id]);
    assert.equal(after.nodes[0]?.description, 'first');
    // The base disk is A's layer now; the VM writes an overlay on it.
    const current = await currentDisk();
    assert.notEqual(current, baseDisk);
    assert.equal(path.dirname(current), path.join(vmFolder, 'snapshots', 'layers'));
    await assertDiskHolds(current, atA, 'the new overlay reads as A');
    frozenBase = sha256(baseDisk);
  });

  test('take B (human output), then revert to A: the disk reads as at A', async () => {
    atB = await write(atA, 'P2', [0, 2]);
    const took = await ok(['snapshot', 'take', VM, 'B']);
    assert.match(
      took.stdout,
      new RegExp(`^took snapshot "B" of "${VM}" \\(disks only; id [0-9a-f-]{36}\\)\\n$`),
    );
    await assertCurrentHolds(atB, 'right after taking B');

    const reverted = await json<{ snapshot: { name: string }; state: string }>([
      'snapshot',
      'revert',
      VM,
      'A',
    ]);
    assert.equal(reverted.snapshot.name, 'A');
    assert.equal(reverted.state, 'off');
    await assertCurrentHolds(atA, 'reverted to A');
    const snapshots = await tree();
    assert.equal(snapshots.currentId, idOf(snapshots, 'A'));
  });

  test('a branch: C taken after reverting to A; reverting to B reads B again', async () => {
    atC = await write(atA, 'P3', [1, 3]);
    await ok(['snapshot', 'take', VM, 'C']);
    await assertCurrentHolds(atC, 'right after taking C');

    const reverted = await ok(['snapshot', 'revert', VM, 'B']);
    assert.equal(reverted.stdout, `"${VM}" reverted to snapshot "B"; it is off\n`);
    await assertCurrentHolds(atB, 'reverted to B');
    // A revert discards what was written since: C's content stays C's.
    await ok(['snapshot', 'revert', VM, 'C']);
    await assertCurrentHolds(atC, 'reverted to C');
    await ok(['snapshot', 'revert', VM, 'B']);
    await assertCurrentHolds(atB, 'reverted to B again');
  });

  test('list: A is the root, B and C its children, "you are here" is B', async () => {
    const snapshots = await tree();
    const [a, b, c] = ['A', 'B', 'C'].map((name) => idOf(snapshots, name));
    assert.deepEqual(snapshots.roots, [a]);
    assert.equal(snapshots.currentId, b);
    assert.equal(snapshots.retainedLayers, 0);
    assert.equal(snapshots.diskProblem, null);
    assert.deepEqual(
      snapshots.nodes.map((node) => [node.name, node.parentId, node.children, node.kind]),
      [
        ['A', null, [b, c], 'disk'],
        ['B', a, [], 'disk'],
        ['C', a, [], 'disk'],
      ],
    );

    const lines = (await ok(['snapshot', 'list', VM])).stdout.trimEnd().split('\n');
    const here = lines.findIndex((line) => /you are here/.test(line));
    assert.ok(here > 0, `"you are here" in:\n${lines.join('\n')}`);
    assert.equal(lines.filter((line) => /you are here/.test(line)).length, 1, lines.join('\n'));
    assert.match(
      lines[here - 1] ?? '',
      /^ {2}B {2}\(disks only, /,
      `under B:\n${lines.join('\n')}`,
    );
    assert.match(lines[0] ?? '', /^A {2}\(disks only, .*\) {2}[0-9a-f]{8}$/);
    assert.equal(lines[1], '  first', "A's description, indented under it");
    assert.match(lines.at(-1) ?? '', /^ {2}C {2}\(disks only, /);
    assert.ok(
      (lines[here]?.indexOf('→') ?? 0) > (lines[here - 1]?.indexOf('B') ?? 0),
      'the mark is indented under B',
    );
  });

  test('with three snapshots, every layer passes qemu-img check', () => {
    const layers = path.join(vmFolder, 'snapshots', 'layers');
    const files = readdirSync(layers).map((name) => path.join(layers, name));
    // B's and C's layers and the current overlay (A's layer is the base disk).
    assert.equal(files.length, 3, files.join(', '));
    for (const file of [baseDisk, ...files]) qemuImgCheck(file);
  });

  test('rename B to B2 with a description', async () => {
    const before = await tree();
    const b = idOf(before, 'B');
    const renamed = await json<{ id: string; name: string; description: string }>([
      'snapshot',
      'rename',
      VM,
      'B',
      'B2',
      '--description',
      'renamed from B',
    ]);
    assert.deepEqual([renamed.id, renamed.name, renamed.description], [b, 'B2', 'renamed from B']);
    const human = await ok(['snapshot', 'rename', VM, 'C', 'C (branch)']);
    assert.match(human.stdout, /^renamed snapshot [0-9a-f]{8} to "C \(branch\)"\n$/);
    // By id works too (and only the name changes).
    await ok(['snapshot', 'rename', VM, idOf(await tree(), 'C (branch)'), 'C']);
    const after = await tree();
    assert.deepEqual(
      after.nodes.map((node) => [node.name, node.description]),
      [
        ['A', 'first'],
        ['B2', 'renamed from B'],
        ['C', ''],
      ],
    );
    assert.equal(after.currentId, b);
    await assertCurrentHolds(atB, 'a rename does not touch the disks');
    await fails(['snapshot', 'revert', VM, 'B'], 1, /no snapshot/i);
  });

  test('delete A, a parent: prints the space freed; B2 and C keep their content', async () => {
    const before = await tree();
    const [b, c] = ['B2', 'C'].map((name) => idOf(before, name));
    const deleted = await ok(['snapshot', 'delete', VM, 'A']);
    assert.match(
      deleted.stdout,
      /^deleted snapshot "A": \d+(\.\d+)? (bytes|KiB|MiB|GiB) freed\n$/,
      deleted.stdout,
    );
    const after = await tree();
    assert.deepEqual(
      after.nodes.map((node) => [node.name, node.parentId]),
      [
        ['B2', null],
        ['C', null],
      ],
    );
    assert.deepEqual(after.roots, [b, c]);
    assert.equal(after.currentId, b);
    assert.equal(after.retainedLayers, 0, 'nothing runs: nothing is kept hidden');
    await assertCurrentHolds(atB, 'the current state after deleting A');

    await ok(['snapshot', 'revert', VM, 'C']);
    await assertCurrentHolds(atC, 'reverted to C after deleting A');
    await ok(['snapshot', 'revert', VM, 'B2']);
    await assertCurrentHolds(atB, 'reverted to B2 after deleting A');
    await ok(['snapshot', 'revert', VM, 'C']);
    await assertCurrentHolds(atC, 'reverted to C again');
  });

  test('delete C while the VM is at C: its layer is merged into the current state', async () => {
    const atNow = await write(atC, 'P1', [0]);
    const deleted = await json<{ freedBytes: number; retainedLayers: number }>([
      'snapshot',
      'delete',
      VM,
      'C',
    ]);
    assert.ok(deleted.freedBytes > 0, `C's layer was freed: ${JSON.stringify(deleted)}`);
    assert.equal(deleted.retainedLayers, 0);
    const after = await tree();
    assert.deepEqual(
      after.nodes.map((node) => node.name),
      ['B2'],
    );
    assert.equal(after.currentId, null, 'C\'s parent was the root: "before the first snapshot"');
    assert.match((await ok(['snapshot', 'list', VM])).stdout, /you are here: before the first/);
    await assertCurrentHolds(atNow, 'the current state after deleting C');
    await ok(['snapshot', 'revert', VM, 'B2']);
    await assertCurrentHolds(atB, 'B2 after deleting C');
  });

  test('every layer and the base disk pass qemu-img check; the base disk never changed', async () => {
    const layers = path.join(vmFolder, 'snapshots', 'layers');
    const files = readdirSync(layers).map((name) => path.join(layers, name));
    assert.ok(files.length >= 2, `B2's layer and the current overlay: ${files.join(', ')}`);
    assert.ok(
      files.every((file) => file.endsWith('.qcow2')),
      `only layers in ${layers}: ${files.join(', ')}`,
    );
    for (const file of [baseDisk, ...files]) qemuImgCheck(file);
    // Nothing of the deleted snapshots is left behind.
    const snapshots = await tree();
    const entries = readdirSync(path.join(vmFolder, 'snapshots')).sort();
    assert.deepEqual(entries, ['layers', 'tree.json', ...snapshots.nodes.map((n) => n.id)].sort());
    assert.equal(sha256(baseDisk), frozenBase, "the base disk (A's layer) was never written");
  });

  test('errors: no such VM or snapshot exit 1; bad arguments exit 2', async () => {
    await fails(['snapshot', 'list', 'no such vm'], 1, /no VM named "no such vm"/);
    await fails(['snapshot', 'take', 'no such vm', 'X'], 1, /no VM named "no such vm"/);
    await fails(['snapshot', 'revert', VM, 'nope'], 1, /no snapshot/i);
    await fails(['snapshot', 'delete', VM, 'nope'], 1, /no snapshot/i);
    await fails(['snapshot', 'rename', VM, 'nope', 'X'], 1, /no snapshot/i);
    await fails(['snapshot', 'take', VM, '   '], 1, /name/);

    const bare = await nestbox(['snapshot']);
    assert.equal(bare.status, 2, 'no subcommand');
    assert.match(bare.stdout + bare.stderr, /Usage: nestbox snapshot/);
    await fails(['snapshot', 'take', VM], 2, /SNAPSHOT required/);
    await fails(['snapshot', 'revert', VM], 2, /SNAPSHOT required/);
    await fails(['snapshot', 'delete'], 2, /NAME and SNAPSHOT required/);
    await fails(['snapshot', 'rename', VM, 'B2'], 2, /NEWNAME required/);
    await fails(['snapshot', 'list'], 2, /NAME required/);
    await fails(['snapshot', 'list', VM, 'extra'], 2, /unexpected argument "extra"/);
    await fails(['snapshot', 'take', VM, 'X', '--bogus'], 2, /--bogus/);
    await fails(['snapshot', 'frobnicate', VM], 2, /unknown snapshot command "frobnicate"/);

    // Nothing changed on the way.
    const snapshots = await tree();
    assert.deepEqual(
      snapshots.nodes.map((node) => node.name),
      ['B2'],
    );
    await assertCurrentHolds(atB, 'after the failed commands');
  });

  test('two snapshots of one name: the name is refused, their ids work', async () => {
    await ok(['snapshot', 'take', VM, 'twin']);
    await ok(['snapshot', 'take', VM, 'twin']);
    const twins = (await tree()).nodes.filter((node) => node.name === 'twin');
    assert.equal(twins.length, 2);
    await fails(['snapshot', 'revert', VM, 'twin'], 1, /2 snapshots are named "twin"; use/);
    await fails(['snapshot', 'delete', VM, 'twin'], 1, /2 snapshots are named "twin"; use/);
    for (const twin of twins) await ok(['snapshot', 'delete', VM, twin.id]);
    assert.deepEqual(
      (await tree()).nodes.map((node) => node.name),
      ['B2'],
    );
    await assertCurrentHolds(atB, 'after deleting both');
    for (const file of readdirSync(path.join(vmFolder, 'snapshots', 'layers'))) {
      qemuImgCheck(path.join(vmFolder, 'snapshots', 'layers', file));
    }
  });
});

describe('nestbox snapshot, on a suspended VM', () => {
  const name = 'suspended vm';

  test('a take keeps the suspended state; a revert discards it', async () => {
    const created = await json<{ folder: string }>([
      'create',
      name,
      '--kernel',
      kernel,
      '--memory',
      '64',
      '--disk-size',
      '16M',
    ]);
    await ok(['snapshot', 'take', name, 'before']);
    // Suspended as the VM host suspends it; the machine's files are stand-ins (nothing boots).
    const store = await openStore(created.folder);
    const prepared = await store.prepareSuspend();
    writeFileSync(prepared.stateFile, 'stand-in state');
    writeFileSync(prepared.ramFile, 'stand-in RAM');
    await store.commitSuspend(prepared);
    assert.equal(await stateOf(name), 'suspended');
    const suspendFolders = () =>
      readdirSync(path.join(created.folder, 'snapshots')).filter((e) => e.startsWith('suspend-'));
    assert.equal(suspendFolders().length, 1);

    // A take of a VM that is not running is of its disks; the saved machine stays.
    const taken = await json<{ withMemory: boolean; snapshot: { kind: string } }>([
      'snapshot',
      'take',
      name,
      'while suspended',
    ]);
    assert.equal(taken.withMemory, false);
    assert.equal(taken.snapshot.kind, 'disk');
    assert.equal(await stateOf(name), 'suspended');
    assert.deepEqual((await openStore(created.folder)).resumeFiles(), {
      stateFile: prepared.stateFile,
      ramFile: prepared.ramFile,
    });

    // A revert goes back to the snapshot's disks: the saved machine belonged to the old ones.
    const reverted = await json<{ state: string }>(['snapshot', 'revert', name, 'before']);
    assert.equal(reverted.state, 'off');
    assert.equal(await stateOf(name), 'off');
    assert.equal((await openStore(created.folder)).resumeFiles(), null);
    assert.deepEqual(suspendFolders(), [], "the saved machine's folder is removed");
    assert.deepEqual(
      (await tree(name)).nodes.map((node) => node.name),
      ['before', 'while suspended'],
    );
  });
});
