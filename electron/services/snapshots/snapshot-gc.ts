/**
 * Garbage collection of the snapshots folder: anything tree.json does not reference is the
 * leftover of an interrupted operation (a layer made before a commit that never happened, a
 * layer whose deletion was cut short, a temp file) and is removed. Only entries directly in
 * snapshots/ and in snapshots/layers/ are judged: a snapshot's own folder and the resume
 * point's folder belong to the caller and are kept or removed as a whole (so any other
 * suspend-<uuid> folder, an abandoned or replaced suspend, goes).
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { LAYERS_DIR, TREE_FILE } from './snapshot-layout.ts';
import type { SnapshotTreeDocument } from './snapshot-tree.ts';

/** What a tree references, as paths relative to snapshots/. */
export function referencedEntries(document: SnapshotTreeDocument): Set<string> {
  const entries = new Set<string>([TREE_FILE, LAYERS_DIR]);
  for (const layer of document.layers) entries.add(layer.file);
  for (const snapshot of document.snapshots) entries.add(snapshot.id);
  if (document.current.resume) entries.add(document.current.resume.folder);
  return entries;
}

async function listEntries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
}

/**
 * Removes every entry of snapshots/ and snapshots/layers/ that is neither referenced nor
 * spared (files of a take or a suspend that is prepared but not yet committed). Returns what
 * went, as paths relative to snapshots/.
 */
export async function removeUnreferenced(
  snapshotsDir: string,
  referenced: ReadonlySet<string>,
  spared: ReadonlySet<string>,
  remove: (path: string) => Promise<void>,
): Promise<string[]> {
  const removed: string[] = [];
  const judge = async (relative: string) => {
    if (referenced.has(relative) || spared.has(relative)) return;
    await remove(path.join(snapshotsDir, relative));
    removed.push(relative);
  };
  for (const entry of await listEntries(snapshotsDir)) {
    await judge(entry.name);
    // A real folder only: a link named layers is never followed.
    if (entry.name === LAYERS_DIR && entry.isDirectory()) {
      for (const layer of await listEntries(path.join(snapshotsDir, LAYERS_DIR))) {
        await judge(`${LAYERS_DIR}/${layer.name}`);
      }
    }
  }
  return removed;
}
