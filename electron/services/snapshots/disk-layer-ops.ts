/**
 * The qcow2 work the snapshot store needs, injected so tests can run it for real (the native
 * addon) or fake it. Paths are absolute.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DiskImageAddon } from '../native/disk-image.ts';

/** How a merge runs (the native addon's LayerMergeOptions). */
export interface MergeLayerOptions {
  /** Bytes of the child's virtual disk dealt with so far, of its virtual size. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Stops the merge between ranges; it then rejects with an AbortError (code ABORT_ERR). The
   * child still uses the layer and reads as before; running the merge again finishes it.
   */
  signal?: AbortSignal;
  /** Copy the layer's ranges into the child but leave the child backed by the layer. */
  copyOnly?: boolean;
}

export interface DiskLayerOps {
  /** A new qcow2 file at `path` (which must not exist) backed by `backingPath`, same size. */
  createOverlay(path: string, backingPath: string): Promise<void> | void;
  /**
   * Gives `childPath` every cluster of `layerPath` it lacks and rebases it onto the layer's
   * own backing file (not with `copyOnly`): the child reads the same before, during and
   * after. Must succeed doing nothing when the child already uses the layer's backing (an
   * earlier run finished), so a merge cut short by a crash or a cancel can simply be run
   * again.
   */
  mergeLayer(
    layerPath: string,
    childPath: string,
    options?: MergeLayerOptions,
  ): Promise<unknown> | unknown;
  /** The disk's virtual size in bytes (the unit of a merge's progress). */
  virtualSize(path: string): Promise<number>;
  /** Bytes the file occupies on the host file system (for "space freed"). */
  fileBytes(path: string): Promise<number>;
}

/** Whether a merge ended because its signal aborted (the addon's AbortError). */
export function isMergeAborted(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR')
  );
}

/**
 * What nativeDiskLayerOps calls on the addon. `imageMergeLayer` is optional so this builds
 * against an addon without it (merging then fails with a message saying so), and may return
 * its result or a promise of it.
 */
export interface LayerOpsAddon {
  imageCreate: DiskImageAddon['imageCreate'];
  imageInfo: DiskImageAddon['imageInfo'];
  imageMergeLayer?(layerPath: string, childPath: string, options?: MergeLayerOptions): unknown;
}

/** Overlays live in <vm>/snapshots/layers/: two levels up is the VM folder. */
const levelsUpToVmFolder = 2;

/**
 * How an overlay names its backing file: relative when the backing is inside the same VM
 * folder (the folder can then be moved or renamed), absolute otherwise (a shared base image).
 */
export function backingReference(overlayPath: string, backingPath: string): string {
  const relative = path.relative(path.dirname(overlayPath), backingPath);
  const ups = relative.split(path.sep).filter((part) => part === '..').length;
  return path.isAbsolute(relative) || ups > levelsUpToVmFolder
    ? path.resolve(backingPath)
    : relative;
}

export function nativeDiskLayerOps(addon: LayerOpsAddon): DiskLayerOps {
  return {
    async createOverlay(overlayPath, backingPath) {
      await addon.imageCreate(overlayPath, {
        format: 'qcow2',
        backingFile: backingReference(overlayPath, backingPath),
      });
    },
    async mergeLayer(layerPath, childPath, options) {
      if (typeof addon.imageMergeLayer !== 'function') {
        throw new Error(
          'This build of the Nestbox native addon cannot merge disk layers (no imageMergeLayer); ' +
            'rebuild it with `npm run build:native`.',
        );
      }
      return await addon.imageMergeLayer(layerPath, childPath, options);
    },
    async virtualSize(file) {
      return (await addon.imageInfo(file)).virtualSize;
    },
    async fileBytes(file) {
      return (await stat(file)).blocks * 512;
    },
  };
}
