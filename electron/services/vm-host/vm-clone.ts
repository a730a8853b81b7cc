/**
 * Clones (docs/snapshots.md): a new VM with the source's hardware and boot settings, a new
 * id and MAC address, and disks of its own.
 *
 * Full clone: every disk is copied into one standalone qcow2 file in the new VM's folder —
 * the source's current state (the source must be off, so its disks are not changing) or a
 * snapshot's (its layers are frozen, so the source may run). Zero ranges stay holes.
 * Linked clone: from a snapshot only; each new disk is an empty overlay whose backing file
 * is the snapshot's frozen layer, so the clone is made at once and shares the data. The
 * snapshot is then protected: it cannot be deleted while the clone exists.
 *
 * The new VM is created first without disks, then its disk files are made, then vm.json
 * names them: a crash in between leaves a VM without disks that can be deleted, never a
 * VM whose disks are half copied. A failure deletes the new VM.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteFile } from '../atomic-write-file.ts';
import type { LibraryVm, VmLibrary } from '../library/vm-library.ts';
import type { DiskImageHandle } from '../native/disk-image.ts';
import type { NativeAddon } from '../native/native-addon.ts';
import type { SnapshotStore, SnapshotTree } from '../snapshots/snapshot-store.ts';
import { SnapshotStoreError } from '../snapshots/snapshot-error.ts';
import type { VmSnapshots } from './vm-snapshots.ts';

export interface CloneOptions {
  /** A linked clone (needs `snapshot`). */
  linked?: boolean;
  /** Clone this snapshot's state instead of the current one (id or unique name). */
  snapshot?: string;
  /** Bytes copied so far of the total (full clones). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Stops a full clone between chunks: the copy throws the signal's reason and the
   * half-made clone is deleted, like any failure.
   */
  signal?: AbortSignal;
}

export interface CloneDeps {
  library: VmLibrary;
  addon: () => NativeAddon;
  /**
   * The source VM's snapshot tree, opened in this process to read it (without collecting
   * anything when the source runs: its host owns the tree).
   */
  store: SnapshotStore;
  /** Whether the source VM runs (a full clone of its current state is then refused). */
  sourceRunning: boolean;
  /**
   * Marks the snapshot as used by the linked clone, through whoever owns the source's tree
   * (VmSnapshots.protect: its VM host while it runs).
   */
  protect: (snapshotId: string, cloneVmId: string) => Promise<unknown>;
}

/**
 * In a linked clone's folder: which VM and snapshot its disks are built on, so deleting the
 * clone can release the snapshot.
 */
export const LINKED_CLONE_FILE = 'linked-clone.json';

export interface LinkedCloneRecord {
  sourceVmId: string;
  snapshotId: string;
}

/** The record of a linked clone's base, or null for any other VM (or an unreadable record). */
export async function readLinkedCloneRecord(folder: string): Promise<LinkedCloneRecord | null> {
  try {
    const raw: unknown = JSON.parse(await readFile(path.join(folder, LINKED_CLONE_FILE), 'utf8'));
    if (typeof raw !== 'object' || raw === null) return null;
    const { sourceVmId, snapshotId } = raw as Record<string, unknown>;
    return typeof sourceVmId === 'string' && typeof snapshotId === 'string'
      ? { sourceVmId, snapshotId }
      : null;
  } catch {
    return null;
  }
}

/** Copying in chunks this large keeps memory small and the progress smooth. */
const COPY_CHUNK_BYTES = 4 * 1024 * 1024;

function isAllZero(bytes: Uint8Array): boolean {
  const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  for (const word of words) if (word !== 0n) return false;
  return true;
}

async function copyDisk(
  addon: NativeAddon,
  from: string,
  to: string,
  onChunk: (bytes: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const source: DiskImageHandle = await addon.openDiskImage(from, { readOnly: true });
  try {
    await addon.imageCreate(to, { format: 'qcow2', size: source.virtualSize });
    const target = await addon.openDiskImage(to);
    try {
      for (let offset = 0; offset < source.virtualSize; offset += COPY_CHUNK_BYTES) {
        signal?.throwIfAborted();
        const length = Math.min(COPY_CHUNK_BYTES, source.virtualSize - offset);
        const data = await source.read(offset, length);
        // A hole in the copy reads as zeroes: nothing to write.
        if (length % 8 !== 0 || !isAllZero(data)) await target.write(offset, data);
        onChunk(length);
      }
      await target.flush();
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

export async function cloneVm(
  deps: CloneDeps,
  source: LibraryVm,
  newName: string,
  options: CloneOptions = {},
): Promise<LibraryVm> {
  const { library, store } = deps;
  if (options.linked && options.snapshot === undefined) {
    throw new Error('a linked clone is made from a snapshot: name one with --snapshot');
  }
  const snapshot = options.snapshot === undefined ? undefined : store.findByName(options.snapshot);
  if (!snapshot && deps.sourceRunning) {
    throw new Error(
      `"${source.config.name}" is running: power it off to clone its current state, or clone ` +
        'one of its snapshots (--snapshot)',
    );
  }
  const sourceFiles = snapshot ? store.layerChain(snapshot.id) : store.currentDiskFiles();
  const { config } = source;
  const clone = await library.create({
    name: newName,
    notes: config.notes,
    guestOs: config.guestOs,
    hardware: {
      cpus: config.hardware.cpus,
      memoryMiB: config.hardware.memoryMiB,
      disks: [],
      network: {
        mode: config.hardware.network.mode,
        portForwards: config.hardware.network.portForwards.map((forward) => ({ ...forward })),
      },
      display: config.hardware.display,
    },
    boot: {
      ...config.boot,
      kernel: path.resolve(source.folder, config.boot.kernel),
      ...(config.boot.initrd === undefined
        ? {}
        : { initrd: path.resolve(source.folder, config.boot.initrd) }),
    },
  });
  try {
    options.signal?.throwIfAborted();
    const addon = deps.addon();
    const disks = [];
    const sizes = await Promise.all(
      sourceFiles.map(async (file) => (await addon.imageInfo(file)).virtualSize),
    );
    const total = sizes.reduce((sum, size) => sum + size, 0);
    let done = 0;
    for (const [index, from] of sourceFiles.entries()) {
      const file = `disk${index}.qcow2`;
      const to = path.join(clone.folder, file);
      if (options.linked) {
        await addon.imageCreate(to, { format: 'qcow2', backingFile: from });
      } else {
        await copyDisk(
          addon,
          from,
          to,
          (bytes) => {
            done += bytes;
            options.onProgress?.(done, total);
          },
          options.signal,
        );
      }
      const configured = config.hardware.disks[index];
      disks.push({
        file,
        format: 'qcow2' as const,
        ...(configured?.readOnly === undefined ? {} : { readOnly: configured.readOnly }),
      });
    }
    if (options.linked && snapshot) {
      // The record first: a clone whose protection was recorded can always release it.
      const record: LinkedCloneRecord = { sourceVmId: source.id, snapshotId: snapshot.id };
      await atomicWriteFile(
        path.join(clone.folder, LINKED_CLONE_FILE),
        `${JSON.stringify(record)}\n`,
      );
      await deps.protect(snapshot.id, clone.id);
    }
    return await library.update(clone.id, { hardware: { disks } });
  } catch (error) {
    await library.delete({ id: clone.id }, { permanently: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Before a VM is deleted: refused while linked clones are built on its snapshots (their disks
 * would lose their base); a linked clone releases the snapshot it was built on.
 */
export async function prepareToDeleteVm(
  library: VmLibrary,
  snapshots: VmSnapshots,
  vm: LibraryVm,
): Promise<void> {
  let tree: SnapshotTree | null = null;
  try {
    tree = await snapshots.list(vm);
  } catch {
    // No usable tree (broken or never made): nothing can be protected by it.
  }
  const clones = new Set(tree?.nodes.flatMap((node) => node.protectedBy) ?? []);
  if (clones.size > 0) {
    const listing = await library.list();
    const names = [...clones].map((id) => {
      const entry = listing.entries.find((e) => e.status === 'ok' && e.id === id);
      return entry && entry.status === 'ok' ? `"${entry.config.name}"` : id;
    });
    throw new SnapshotStoreError(
      'snapshot-protected',
      `"${vm.config.name}" cannot be deleted: the linked clone${names.length > 1 ? 's' : ''} ` +
        `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} built on its snapshots; ` +
        'delete them first',
    );
  }
  const record = await readLinkedCloneRecord(vm.folder);
  if (!record) return;
  const listing = await library.list();
  const source = listing.entries.find(
    (entry): entry is Extract<typeof entry, { status: 'ok' }> =>
      entry.status === 'ok' && entry.id === record.sourceVmId,
  );
  // A source that is gone, or a snapshot already released, has nothing to release.
  if (source) {
    await snapshots.protect(source, record.snapshotId, vm.id, false).catch(() => undefined);
  }
}
