/**
 * The file-system changes the snapshot store makes, behind an interface so tests can make
 * any one of them fail (or "crash" the process) and check what is left on disk. Reads are
 * not here: a failed read changes nothing.
 */
import { link, mkdir, open, rm } from 'node:fs/promises';
import { atomicWriteFile } from '../atomic-write-file.ts';

export interface SnapshotFileSystem {
  /** One folder (`recursive`: and its parents; an existing folder is then fine). */
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** A file, or a folder with everything in it; a missing one is fine. Never follows links. */
  remove(path: string): Promise<void>;
  /** A hard link: `newPath` (which must not exist) names the same file as `existing`. */
  link(existing: string, newPath: string): Promise<void>;
  /** Temp file, fsync, rename, fsync of the folder. */
  writeFileAtomic(path: string, data: string): Promise<void>;
  /** fsync of a file or a folder, so what it holds survives a power cut. */
  sync(path: string): Promise<void>;
}

export const nodeSnapshotFileSystem: SnapshotFileSystem = {
  async mkdir(path, options = {}) {
    await mkdir(path, { recursive: options.recursive ?? false });
  },
  async remove(path) {
    await rm(path, { recursive: true, force: true });
  },
  link: (existing, newPath) => link(existing, newPath),
  writeFileAtomic: (path, data) => atomicWriteFile(path, data),
  async sync(path) {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
