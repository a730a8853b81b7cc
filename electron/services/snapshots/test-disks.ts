/**
 * Shared by the snapshot tests: real qcow2 disks through the built native addon, content
 * stamps and checks, and a layer merge for addons that do not have `imageMergeLayer` yet.
 *
 * The merge stand-in keeps the native merge's contract (native/src/block/layer_merge.h): the
 * child reads the same afterwards and is backed by the layer's own backing file; run again
 * on a child already backed by that file it does nothing; on a child that does not use the
 * layer at all it throws. It rebuilds the child in a temp file and renames it over the child.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadNativeAddon } from '../native/load-addon.ts';
import type { NativeAddon } from '../native/native-addon.ts';
import {
  backingReference,
  nativeDiskLayerOps,
  type DiskLayerOps,
  type MergeLayerOptions,
} from './disk-layer-ops.ts';
import { referencedEntries } from './snapshot-gc.ts';
import type { SnapshotStore } from './snapshot-store.ts';
import { validateSnapshotTree, type SnapshotTreeDocument } from './snapshot-tree.ts';

export const DISK_SIZE = 1024 * 1024;
export const RAW_DISK_SIZE = 512 * 1024;
const CHUNK = 64 * 1024;

let cachedAddon: NativeAddon | undefined;
export function addon(): NativeAddon {
  cachedAddon ??= loadNativeAddon();
  return cachedAddon;
}

/** The merge as it may or may not exist in the addon that was built. */
type MergeCapable = Omit<NativeAddon, 'imageMergeLayer'> & {
  imageMergeLayer?: (layerPath: string, childPath: string, options?: MergeLayerOptions) => unknown;
};

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [left, right] = await Promise.all([stat(a), stat(b)]);
    return left.dev === right.dev && left.ino === right.ino;
  } catch {
    return false;
  }
}

export async function mergeLayerInJs(
  layerPath: string,
  childPath: string,
  options: MergeLayerOptions = {},
): Promise<string> {
  const native = addon();
  options.signal?.throwIfAborted();
  // Copying ahead is an optimisation: the content does not change, so doing nothing keeps it.
  if (options.copyOnly) return 'copied';
  const child = await native.imageInfo(childPath);
  const layer = await native.imageInfo(layerPath);
  const childBacking = child.backingChain[0]?.path;
  const layerBacking = layer.backingChain[0]?.path;
  if (childBacking === undefined || !(await sameFile(childBacking, layerPath))) {
    const alreadyMerged =
      layerBacking === undefined
        ? childBacking === undefined
        : childBacking !== undefined && (await sameFile(childBacking, layerBacking));
    if (alreadyMerged) return 'already-merged';
    throw Object.assign(new Error(`${childPath} does not use ${layerPath} as its backing file`), {
      code: 'IMAGE_BACKING_CHAIN',
    });
  }
  const size = child.virtualSize;
  const wanted = await native.imageRead(childPath, 0, size);
  const below = layerBacking ? await native.imageRead(layerBacking, 0, size) : new Uint8Array(size);
  const temp = `${childPath}.merging`;
  await rm(temp, { force: true });
  await native.imageCreate(temp, {
    format: 'qcow2',
    size,
    ...(layerBacking ? { backingFile: backingReference(childPath, layerBacking) } : {}),
  });
  const image = await native.openDiskImage(temp);
  try {
    for (let offset = 0; offset < size; offset += CHUNK) {
      const part = wanted.subarray(offset, offset + CHUNK);
      if (!Buffer.from(part).equals(below.subarray(offset, offset + CHUNK))) {
        await image.write(offset, part);
      }
    }
  } finally {
    await image.close();
  }
  await rename(temp, childPath);
  return 'merged';
}

/** The addon's create and stat; its merge when it has one, else mergeLayerInJs. */
export function realDiskLayerOps(): DiskLayerOps {
  const native = addon() as MergeCapable;
  const ops = nativeDiskLayerOps(native);
  return typeof native.imageMergeLayer === 'function'
    ? ops
    : { ...ops, mergeLayer: mergeLayerInJs };
}

export interface TestVm {
  folder: string;
  /** Absolute: a qcow2 disk and a raw disk. */
  baseDisks: string[];
}

/** A VM folder with a 1 MiB qcow2 disk (relative in vm.json) and a 512 KiB raw one. */
export async function makeTestVm(folder: string, options: { disks?: 1 | 2 } = {}): Promise<TestVm> {
  const native = addon();
  const qcow2 = path.join(folder, 'disk.qcow2');
  await native.imageCreate(qcow2, { format: 'qcow2', size: DISK_SIZE });
  const baseDisks = [qcow2];
  if ((options.disks ?? 2) === 2) {
    const raw = path.join(folder, 'data.raw');
    await native.imageCreate(raw, { format: 'raw', size: RAW_DISK_SIZE });
    baseDisks.push(raw);
  }
  await stampDisks(baseDisks, 'base');
  return { folder, baseDisks };
}

/** Writes a few 4 KiB blocks derived from `tag` (overlapping other tags' blocks) to a disk. */
export async function stamp(file: string, tag: string): Promise<void> {
  const native = addon();
  const info = await native.imageInfo(file);
  const seed = createHash('sha256').update(tag).digest();
  for (let index = 0; index < 4; index += 1) {
    const block = (seed[index] ?? 0) % (info.virtualSize / 4096);
    const data = new Uint8Array(4096).fill((seed[index + 8] ?? 0) | 1);
    data.set(Buffer.from(`${tag}#${index}`), 0);
    await native.imageWrite(file, block * 4096, data);
  }
}

export async function stampDisks(files: readonly string[], tag: string): Promise<void> {
  for (const [disk, file] of files.entries()) await stamp(file, `${tag}/disk${disk}`);
}

/** A digest of everything the guest would read from each disk. */
export async function diskContents(files: readonly string[]): Promise<string[]> {
  const native = addon();
  const digests: string[] = [];
  for (const file of files) {
    const info = await native.imageInfo(file);
    const bytes = await native.imageRead(file, 0, info.virtualSize);
    digests.push(createHash('sha256').update(bytes).digest('hex'));
  }
  return digests;
}

export async function readTreeDocument(folder: string): Promise<SnapshotTreeDocument> {
  const text = await readFile(path.join(folder, 'snapshots', 'tree.json'), 'utf8');
  const validated = validateSnapshotTree(JSON.parse(text));
  if (!validated.ok) throw new Error(`tree.json is invalid: ${JSON.stringify(validated.issues)}`);
  return validated.value;
}

/** Entries of snapshots/ and snapshots/layers/ that tree.json does not reference. */
export async function strayEntries(folder: string): Promise<string[]> {
  const snapshotsDir = path.join(folder, 'snapshots');
  const referenced = referencedEntries(await readTreeDocument(folder));
  const stray: string[] = [];
  for (const name of await readdir(snapshotsDir)) {
    if (!referenced.has(name)) stray.push(name);
  }
  for (const name of await readdir(path.join(snapshotsDir, 'layers')).catch(() => [])) {
    if (!referenced.has(`layers/${name}`)) stray.push(`layers/${name}`);
  }
  return stray;
}

/** Every layer file the tree lists exists. */
export async function missingLayers(folder: string): Promise<string[]> {
  const document = await readTreeDocument(folder);
  const missing: string[] = [];
  for (const layer of document.layers) {
    const exists = await stat(path.join(folder, 'snapshots', layer.file)).then(
      () => true,
      () => false,
    );
    if (!exists) missing.push(layer.file);
  }
  return missing;
}

export async function current(store: SnapshotStore): Promise<string[]> {
  return diskContents(store.currentDiskFiles());
}

/** Takes a snapshot the way the VM host does: prepare, write the state files, commit. */
export async function takeSnapshot(
  store: SnapshotStore,
  name: string,
  kind: 'memory' | 'disk' = 'disk',
): Promise<string> {
  const prepared = await store.prepareTake({ name, kind });
  if (kind === 'memory') {
    await writeFile(prepared.stateFile, `state of ${name}`);
    await writeFile(prepared.ramFile, Buffer.alloc(256 * 1024, 7));
  }
  const node = await store.commitTake(prepared, { thumbnail: false });
  return node.id;
}

export interface BranchyTree {
  /** Disk contents per snapshot name, and 'current' for the current state. */
  states: Map<string, string[]>;
  ids: Map<string, string>;
}

/**
 *   A (base layers)
 *   ├── B ─┬── D
 *   │      └── E ── (current, with writes of its own)
 *   └── C ── F
 */
export async function buildBranchyTree(store: SnapshotStore): Promise<BranchyTree> {
  const states = new Map<string, string[]>();
  const ids = new Map<string, string>();
  const snap = async (name: string, kind: 'memory' | 'disk' = 'disk') => {
    states.set(name, await current(store));
    ids.set(name, await takeSnapshot(store, name, kind));
  };
  const write = (tag: string) => stampDisks(store.currentDiskFiles(), tag);
  const revert = (name: string) => store.revert(ids.get(name) ?? '');
  await snap('A');
  await write('b');
  await snap('B', 'memory');
  await write('d');
  await snap('D');
  await revert('B');
  await write('e');
  await snap('E', 'memory');
  await revert('A');
  await write('c');
  await snap('C');
  await write('f');
  await snap('F');
  await revert('E');
  await write('current');
  states.set('current', await current(store));
  return { states, ids };
}
