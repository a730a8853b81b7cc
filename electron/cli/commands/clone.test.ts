/**
 * `nestbox clone NAME NEWNAME [--linked] [--snapshot S]` on a VM that is off (no VM host, no
 * /dev/kvm): the CLI runs in this process (runCli with the real commands, captured output) on
 * a library in a temporary NESTBOX_HOME. The source VM's disk gets known bytes between
 * snapshots (P1 ─ take A ─ P2 ─ take B ─ P3), and each clone's disk is read back whole:
 * - a full clone (of the current state, or of a snapshot) is a standalone qcow2 file with the
 *   same content, in a new VM with a new id and MAC address and the same hardware and boot;
 * - a linked clone is an overlay on the snapshot's layer, reads as the snapshot, writes only
 *   to itself, and protects the snapshot from being deleted;
 * - bad requests fail without leaving a VM behind.
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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuests } from '../../../native/test/guests/build-guests.ts';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import type { NativeAddon } from '../../services/native/native-addon.ts';
import { nativeDiskLayerOps } from '../../services/snapshots/disk-layer-ops.ts';
import { SnapshotStore, type SnapshotTree } from '../../services/snapshots/snapshot-store.ts';

const MiB = 1024 * 1024;
const DISK_SIZE = 16 * MiB;
const SOURCE = 'source';

interface CreatedJson {
  id: string;
  name: string;
  folder: string;
}

interface ListedJson {
  vms: { name: string; id: string; folder: string; state: string }[];
}

/** The parts of vm.json a clone copies or must not copy. */
interface VmJson {
  id: string;
  name: string;
  hardware: {
    cpus: number;
    memoryMiB: number;
    disks: { file: string; format: string; readOnly?: boolean }[];
    network: { mode: string; macAddress: string; portForwards: unknown[] };
    display: unknown;
    serial: boolean;
  };
  boot: { kind: string; kernel: string; cmdline: string; initrd?: string };
}

let addon: NativeAddon;
let kernel: string;
let home: string;
let env: NodeJS.ProcessEnv;
let source: CreatedJson;

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

async function fails(args: string[], status: number[], message: RegExp): Promise<CliResult> {
  const run = await nestbox(args);
  assert.ok(
    status.includes(run.status),
    `nestbox ${args.join(' ')} exited ${run.status}, not ${status.join(' or ')}: ${run.stderr}`,
  );
  assert.match(run.stderr, message, `nestbox ${args.join(' ')}`);
  assert.doesNotMatch(run.stderr, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace');
  return run;
}

const listed = () => json<ListedJson>(['list']);
const tree = (vm: string) => json<SnapshotTree>(['snapshot', 'list', vm]);
const vmJson = (folder: string) =>
  JSON.parse(readFileSync(path.join(folder, 'vm.json'), 'utf8')) as VmJson;

async function vmNames(): Promise<string[]> {
  return (await listed()).vms.map((vm) => vm.name).sort();
}

// ---- what is on the disks ----

/** Regions the test writes: the first sector, across a 64 KiB cluster boundary, the last sector. */
const REGIONS = [
  { offset: 0, length: 4096 },
  { offset: 5 * MiB - 4096, length: 8192 },
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

function expectedImage(state: DiskState): Buffer {
  const image = Buffer.alloc(DISK_SIZE);
  for (const [index, region] of REGIONS.entries()) {
    const label = state[index];
    if (label) stamp(label, index).copy(image, region.offset);
  }
  return image;
}

async function writeRegions(
  file: string,
  from: DiskState,
  label: string,
  indexes: number[],
): Promise<DiskState> {
  for (const index of indexes) {
    const region = REGIONS[index];
    assert.ok(region);
    await addon.imageWrite(file, region.offset, stamp(label, index));
  }
  return from.map((held, index) => (indexes.includes(index) ? label : held));
}

async function assertDiskHolds(file: string, state: DiskState, what: string): Promise<void> {
  const info = await addon.imageInfo(file);
  assert.equal(info.virtualSize, DISK_SIZE, `${what}: the disk's size`);
  const actual = Buffer.from(await addon.imageRead(file, 0, DISK_SIZE));
  const expected = expectedImage(state);
  if (actual.equals(expected)) return;
  let at = 0;
  while (actual[at] === expected[at]) at += 1;
  const region = REGIONS.findIndex((r) => at >= r.offset && at < r.offset + r.length);
  const holds = (label: string) =>
    region >= 0 &&
    actual
      .subarray(REGIONS[region]?.offset, (REGIONS[region]?.offset ?? 0) + 32)
      .equals(stamp(label, region).subarray(0, 32));
  const seen = ['P1', 'P2', 'P3', 'P9'].find(holds) ?? 'other bytes';
  assert.fail(
    `${what}: ${file} differs at byte ${at} (region ${region}, holding ${seen}); ` +
      `expected ${JSON.stringify(state)}`,
  );
}

/** The source VM's current disk file (its current overlay once it has snapshots). */
async function sourceCurrentDisk(): Promise<string> {
  const store = await SnapshotStore.open(
    source.folder,
    [path.join(source.folder, 'disk.qcow2')],
    nativeDiskLayerOps(addon),
  );
  const [file] = store.currentDiskFiles();
  assert.ok(file);
  return file;
}

/** The clone's single disk, as its vm.json names it. */
function cloneDisk(folder: string): string {
  const disks = vmJson(folder).hardware.disks;
  assert.equal(disks.length, 1, `one disk in ${folder}/vm.json: ${JSON.stringify(disks)}`);
  const [disk] = disks;
  assert.ok(disk);
  assert.equal(disk.format, 'qcow2');
  return path.resolve(folder, disk.file);
}

function qemuImg(args: string[]): { status: number | null; output: string } {
  const run = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function assertQemuImgCheck(file: string): void {
  const check = qemuImg(['check', file]);
  assert.equal(check.status, 0, `qemu-img check ${file}:\n${check.output}`);
}

/** `qemu-img info --output=json` of one file (not its chain). */
function qemuImgInfo(file: string): Record<string, unknown> {
  const info = qemuImg(['info', '--output=json', file]);
  assert.equal(info.status, 0, `qemu-img info ${file}:\n${info.output}`);
  return JSON.parse(info.output) as Record<string, unknown>;
}

/** A new VM of the same hardware and boot, but its own id, MAC address and disks. */
function assertClonedSettings(clone: CreatedJson, name: string): void {
  const original = vmJson(source.folder);
  const copy = vmJson(clone.folder);
  assert.equal(copy.name, name);
  assert.equal(copy.id, clone.id);
  assert.notEqual(copy.id, original.id, 'a new id');
  assert.notEqual(
    copy.hardware.network.macAddress.toLowerCase(),
    original.hardware.network.macAddress.toLowerCase(),
    'a new MAC address',
  );
  assert.notEqual(path.resolve(clone.folder), path.resolve(source.folder), 'a folder of its own');
  assert.deepEqual(
    [
      copy.hardware.cpus,
      copy.hardware.memoryMiB,
      copy.hardware.display,
      copy.hardware.serial,
      copy.hardware.network.mode,
      copy.hardware.network.portForwards,
      copy.boot,
    ],
    [
      original.hardware.cpus,
      original.hardware.memoryMiB,
      original.hardware.display,
      original.hardware.serial,
      original.hardware.network.mode,
      original.hardware.network.portForwards,
      original.boot,
    ],
    'the same hardware and boot settings',
  );
}

// The source's states (REGIONS order).
let atA: DiskState;
let atB: DiskState;
let current: DiskState;
let linkedA: CreatedJson;
let linkedB: CreatedJson;

before(async () => {
  const version = qemuImg(['--version']);
  assert.equal(version.status, 0, 'these tests need qemu-img (Debian package qemu-utils)');
  addon = loadNativeAddon();
  kernel = buildGuests().elf.hello;
  home = mkdtempSync(path.join(tmpdir(), 'nestbox-cli-clone-'));
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

describe('nestbox clone, of a VM that is off', () => {
  test('the source: P1, snapshot A, P2, snapshot B, P3', async () => {
    source = await json<CreatedJson>([
      'create',
      SOURCE,
      '--kernel',
      kernel,
      '--append',
      'spin=7 console=ttyS0',
      '--cpus',
      '2',
      '--memory',
      '96',
      '--disk-size',
      '16M',
    ]);
    const none: DiskState = [null, null, null];
    atA = await writeRegions(await sourceCurrentDisk(), none, 'P1', [0, 1, 2]);
    await ok(['snapshot', 'take', SOURCE, 'A']);
    atB = await writeRegions(await sourceCurrentDisk(), atA, 'P2', [0, 1]);
    await ok(['snapshot', 'take', SOURCE, 'B']);
    current = await writeRegions(await sourceCurrentDisk(), atB, 'P3', [1, 2]);
    await assertDiskHolds(await sourceCurrentDisk(), current, 'the source now');
  });

  test('a full clone of the current state: a standalone disk with the same content', async () => {
    const clone = await json<CreatedJson>(['clone', SOURCE, 'full copy']);
    assert.equal(clone.name, 'full copy');
    assertClonedSettings(clone, 'full copy');
    const vms = (await listed()).vms;
    assert.deepEqual(vms.map((vm) => vm.name).sort(), ['full copy', SOURCE]);
    const listedClone = vms.find((vm) => vm.name === 'full copy');
    assert.equal(listedClone?.id, clone.id);
    assert.equal(listedClone.state, 'off');
    assert.notEqual(listedClone.id, source.id);

    const disk = cloneDisk(clone.folder);
    assert.equal(path.dirname(disk), path.resolve(clone.folder), 'the disk is in its folder');
    const info = await addon.imageInfo(disk);
    assert.equal(info.format, 'qcow2');
    assert.ok(!info.backingFile, `no backing file: ${info.backingFile}`);
    assert.deepEqual(info.backingChain, []);
    assert.equal(qemuImgInfo(disk)['backing-filename'], undefined);
    assertQemuImgCheck(disk);
    await assertDiskHolds(disk, current, 'the full clone');
    await assertDiskHolds(await sourceCurrentDisk(), current, 'the source, unchanged');
    // Its own tree: no snapshots.
    assert.deepEqual((await tree('full copy')).nodes, []);
    // Writing the clone leaves the source alone.
    await writeRegions(disk, current, 'P9', [0]);
    await assertDiskHolds(await sourceCurrentDisk(), current, 'the source after the clone wrote');
  });

  test("a full clone of snapshot A has A's content (human output, progress)", async () => {
    const run = await ok(['clone', SOURCE, 'copy of A', '--snapshot', 'A']);
    assert.match(run.stdout, /^Cloned "source" as "copy of A" \(full; .*copy of A\)\n$/);
    assert.match(run.stderr, /copying disks: 100%/);
    const clone = (await listed()).vms.find((vm) => vm.name === 'copy of A');
    assert.ok(clone);
    assertClonedSettings(clone, 'copy of A');
    const disk = cloneDisk(clone.folder);
    assert.ok(!(await addon.imageInfo(disk)).backingFile, 'standalone');
    assertQemuImgCheck(disk);
    await assertDiskHolds(disk, atA, 'the full clone of A');
    // By id, of B.
    const b = (await tree(SOURCE)).nodes.find((node) => node.name === 'B');
    assert.ok(b);
    const ofB = await json<CreatedJson>(['clone', SOURCE, 'copy of B', '--snapshot', b.id]);
    await assertDiskHolds(cloneDisk(ofB.folder), atB, 'the full clone of B (by id)');
  });

  test("a linked clone of A: an overlay on A's layer; A is protected", async () => {
    linkedA = await json<CreatedJson>(['clone', SOURCE, 'linked A', '--linked', '--snapshot', 'A']);
    assertClonedSettings(linkedA, 'linked A');
    const disk = cloneDisk(linkedA.folder);
    const info = await addon.imageInfo(disk);
    assert.ok(info.backingFile, 'a backing file');
    // A was the first snapshot: its layer is the source's base disk.
    assert.equal(
      info.backingChain[0]?.path,
      path.join(source.folder, 'disk.qcow2'),
      JSON.stringify(info.backingChain),
    );
    assert.equal(typeof qemuImgInfo(disk)['backing-filename'], 'string');
    assertQemuImgCheck(disk);
    await assertDiskHolds(disk, atA, 'the linked clone of A');

    const a = (await tree(SOURCE)).nodes.find((node) => node.name === 'A');
    assert.deepEqual(a?.protectedBy, [linkedA.id]);
    assert.match(
      (await ok(['snapshot', 'list', SOURCE])).stdout,
      /^A {2}\(disks only, .*, used by 1 linked clone\(s\)\)/m,
    );

    // The clone writes to its own overlay only.
    const written = await writeRegions(disk, atA, 'P9', [1]);
    await assertDiskHolds(disk, written, 'the linked clone after writing');
    await ok(['snapshot', 'revert', SOURCE, 'A']);
    await assertDiskHolds(await sourceCurrentDisk(), atA, 'the source reverted to A');
    current = atA;
  });

  test("a linked clone of B: backed by B's layer in the source's snapshots", async () => {
    linkedB = await json<CreatedJson>(['clone', SOURCE, 'linked B', '--linked', '--snapshot', 'B']);
    const disk = cloneDisk(linkedB.folder);
    const info = await addon.imageInfo(disk);
    assert.equal(
      path.dirname(info.backingChain[0]?.path ?? ''),
      path.join(source.folder, 'snapshots', 'layers'),
      JSON.stringify(info.backingChain),
    );
    assert.equal(info.backingChain.length, 2, "B's layer, then the base disk");
    assertQemuImgCheck(disk);
    await assertDiskHolds(disk, atB, 'the linked clone of B');
    const b = (await tree(SOURCE)).nodes.find((node) => node.name === 'B');
    assert.deepEqual(b?.protectedBy, [linkedB.id]);
  });

  test('a protected snapshot cannot be deleted', async () => {
    await fails(['snapshot', 'delete', SOURCE, 'A'], [1], /protected|linked clone/);
    await fails(['snapshot', 'delete', SOURCE, 'B'], [1], /protected|linked clone/);
    const snapshots = await tree(SOURCE);
    assert.deepEqual(
      snapshots.nodes.map((node) => node.name),
      ['A', 'B'],
    );
    await assertDiskHolds(
      cloneDisk(linkedA.folder),
      [...atA.slice(0, 1), 'P9', atA[2] ?? null],
      'linked A still',
    );
  });

  test('bad requests exit 1 or 2 and leave no VM behind', async () => {
    const before = await vmNames();
    await fails(['clone', SOURCE, 'x', '--linked'], [1, 2], /--snapshot/);
    await fails(['clone', SOURCE, 'y', '--snapshot', 'nope'], [1], /no snapshot/i);
    await fails(['clone', SOURCE, 'z', '--linked', '--snapshot', 'nope'], [1], /no snapshot/i);
    await fails(['clone', 'no such vm', 'w'], [1], /no VM named "no such vm"/);
    await fails(['clone', SOURCE], [2], /NEWNAME required/);
    await fails(['clone'], [2], /NAME and NEWNAME required/);
    await fails(['clone', SOURCE, 'v', '--snapshot'], [2], /--snapshot/);
    await fails(['clone', SOURCE, ' '], [1, 2], /name/);
    assert.deepEqual(await vmNames(), before);
    const help = await ok(['clone', '--help']);
    assert.match(help.stdout, /^Usage: nestbox clone NAME NEWNAME/);
  });

  test('deleting the linked clone releases the snapshot', async () => {
    await ok(['delete', 'linked A', '--permanently']);
    const a = (await tree(SOURCE)).nodes.find((node) => node.name === 'A');
    assert.deepEqual(a?.protectedBy, []);
    await ok(['snapshot', 'delete', SOURCE, 'A']);
  });

  test('the source of a linked clone cannot be deleted', async () => {
    await fails(['delete', SOURCE, '--permanently'], [1], /linked clone/);
    await assertDiskHolds(cloneDisk(linkedB.folder), atB, 'linked B');
  });
});
