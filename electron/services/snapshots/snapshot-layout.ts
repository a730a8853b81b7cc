/**
 * Where a VM's snapshots live inside its folder (docs/snapshots.md):
 *
 *   snapshots/tree.json             the tree (schema version 1), replaced atomically
 *   snapshots/layers/<random>.qcow2 frozen layers and the current overlays
 *   snapshots/<snapshot-id>/        state.nbsnap, ram.bin, thumbnail.png (written by the caller)
 *   snapshots/suspend-<uuid>/       state.nbsnap, ram.bin of the resume point (a suspended VM)
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export const SNAPSHOTS_DIR = 'snapshots';
export const TREE_FILE = 'tree.json';
export const LAYERS_DIR = 'layers';
export const STATE_FILE = 'state.nbsnap';
export const RAM_FILE = 'ram.bin';
export const THUMBNAIL_FILE = 'thumbnail.png';

/** The files a memory snapshot's folder holds; the caller writes them. */
export interface SnapshotFiles {
  directory: string;
  stateFile: string;
  ramFile: string;
  thumbnailFile: string;
}

/** The files of a resume point's folder: written by the caller, or linked from a snapshot. */
export interface SuspendFiles {
  directory: string;
  stateFile: string;
  ramFile: string;
}

export const SUSPEND_FOLDER_PREFIX = 'suspend-';

export class SnapshotLayout {
  readonly vmFolder: string;
  readonly snapshotsDir: string;
  readonly treeFile: string;
  readonly layersDir: string;

  constructor(vmFolder: string) {
    this.vmFolder = path.resolve(vmFolder);
    this.snapshotsDir = path.join(this.vmFolder, SNAPSHOTS_DIR);
    this.treeFile = path.join(this.snapshotsDir, TREE_FILE);
    this.layersDir = path.join(this.snapshotsDir, LAYERS_DIR);
  }

  /** A path from tree.json (validated: `layers/<name>.qcow2`) made absolute. */
  layerPath(relative: string): string {
    return path.join(this.snapshotsDir, relative);
  }

  snapshotFiles(id: string): SnapshotFiles {
    const directory = path.join(this.snapshotsDir, id);
    return {
      directory,
      stateFile: path.join(directory, STATE_FILE),
      ramFile: path.join(directory, RAM_FILE),
      thumbnailFile: path.join(directory, THUMBNAIL_FILE),
    };
  }

  /** `folder`: a validated `suspend-<uuid>` name. */
  suspendFiles(folder: string): SuspendFiles {
    const directory = path.join(this.snapshotsDir, folder);
    return {
      directory,
      stateFile: path.join(directory, STATE_FILE),
      ramFile: path.join(directory, RAM_FILE),
    };
  }

  /**
   * How tree.json records a base disk: relative to the VM folder when inside it (so a moved
   * folder still matches), else absolute.
   */
  baseDiskKey(absolute: string): string {
    const relative = path.relative(this.vmFolder, path.resolve(absolute));
    return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)
      ? relative
      : path.resolve(absolute);
  }
}

/** A fresh name for a layer file, relative to snapshots/. */
export function newLayerName(random: (size: number) => Uint8Array = randomBytes): string {
  return `${LAYERS_DIR}/${Buffer.from(random(16)).toString('hex')}.qcow2`;
}

/** Temp files atomicWriteFile leaves beside tree.json when interrupted. */
export const treeTempFile = /^\.tree\.json\.[0-9a-f]+\.tmp$/;
