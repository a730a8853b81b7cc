/**
 * The qcow2 work the snapshot store needs, injected so tests can run it for real (the native
 * addon) or fake it. Paths are absolute.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DiskImageAddon } from '../native/disk-image.ts';

export interface DiskLayerOps {
  /** A new qcow2 file at `path` (which must not exist) backed by `backingPath`, same size. */
  createOverlay(path: string, backingPath: string): Promise<void> | void;
  /**
   * Gives `childPath` every cluster of `layerPath` it lacks and rebases it onto the layer's
   * own backing file: the child reads the same before, during and after. Must succeed doing
   * nothing when the child already uses the layer's backing (an earlier run finished), so a
   * merge cut short by a crash can simply be run again.
   */
  mergeLayer(layerPath: string, childPath: string): Promise<unknown> | unknown;
  /** Bytes the file occupies on the host file system (for "space freed"). */
  fileBytes(path: string): Promise<number>;
}

/**
 * What nativeDiskLayerOps calls on the addon. `imageMergeLayer` is optional so this builds
 * against an addon without it (merging then fails with a message saying so), and may return
 * its result or a promise of it.
 */
export interface LayerOpsAddon {
  imageCreate: DiskImageAddon['imageCreate'];
  imageMergeLayer?(layerPath: string, childPath: string): unknown;
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
    async mergeLayer(layerPath, childPath) {
      if (typeof addon.imageMergeLayer !== 'function') {
        throw new Error(
          'This build of the Nestbox native addon cannot merge disk layers (no imageMergeLayer); ' +
            'rebuild it with `npm run build:native`.',
        );
      }
      return await addon.imageMergeLayer(layerPath, childPath);
    },
    async fileBytes(file) {
      return (await stat(file)).blocks * 512;
    },
  };
}
