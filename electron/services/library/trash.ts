/**
 * Deleting a VM moves its folder to a trash, never erases it: the desktop's trash through
 * `gio trash` (GLib's implementation of the freedesktop.org trash spec, so the VM shows up
 * in Files' Trash and can be restored there) when `gio` is on PATH, else a `.trash` folder
 * inside the library root. Erasing for good is a separate, explicit choice of the user.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, rename } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathExists } from '../path-exists.ts';

export type TrashMethod = 'desktop-trash' | 'library-trash';

export interface TrashOutcome {
  method: TrashMethod;
  /** Where the folder is now, for the library trash (the desktop trash keeps its own records). */
  location?: string;
}

export interface TrashOptions {
  /** The library root; its `.trash` folder is the fallback. */
  libraryRoot: string;
  /** PATH (to find `gio`) and the environment `gio` runs with. */
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export const LIBRARY_TRASH_FOLDER = '.trash';
const gioTimeoutMs = 60_000;

export class TrashError extends Error {
  override readonly name = 'TrashError';
}

export async function moveToTrash(folder: string, options: TrashOptions): Promise<TrashOutcome> {
  const env = options.env ?? process.env;
  const gio = await findExecutable('gio', env['PATH'] ?? '');
  let gioProblem: string | undefined;
  if (gio) {
    try {
      await runGioTrash(gio, folder, env);
      return { method: 'desktop-trash' };
    } catch (error) {
      // E.g. no trash folder on that file system; the library's own trash may still work.
      gioProblem = error instanceof Error ? error.message : String(error);
    }
  }
  try {
    return await moveToLibraryTrash(folder, options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const gioPart = gioProblem ? `gio trash failed (${gioProblem}), and ` : '';
    throw new TrashError(
      `${folder} could not be moved to the trash: ${gioPart}${reason}. Nothing was deleted.`,
      { cause: error },
    );
  }
}

/** The first executable `name` on a PATH string, or undefined. */
export async function findExecutable(
  name: string,
  searchPath: string,
): Promise<string | undefined> {
  for (const directory of searchPath.split(path.delimiter)) {
    if (!directory || !path.isAbsolute(directory)) continue;
    const candidate = path.join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

function runGioTrash(gio: string, folder: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      gio,
      ['trash', '--', folder],
      { env, timeout: gioTimeoutMs, encoding: 'utf8' },
      (error, _stdout, stderr) => {
        if (!error) {
          resolve();
          return;
        }
        const detail = stderr.trim() || error.message;
        reject(new Error(detail));
      },
    );
  });
}

async function moveToLibraryTrash(folder: string, options: TrashOptions): Promise<TrashOutcome> {
  const trash = path.join(options.libraryRoot, LIBRARY_TRASH_FOLDER);
  await mkdir(trash, { recursive: true });
  const stamp = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  // A unique name: rename() would silently replace an empty folder of the same name.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const suffix = attempt === 0 ? '' : `-${randomBytes(3).toString('hex')}`;
    const destination = path.join(trash, `${path.basename(folder)} ${stamp}${suffix}`);
    if (await pathExists(destination)) continue;
    try {
      await rename(folder, destination);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EXDEV') {
        throw new Error(
          `it is on another file system than the library's trash (${trash}); delete it ` +
            'permanently or move it away yourself',
          { cause: error },
        );
      }
      throw error;
    }
    return { method: 'library-trash', location: destination };
  }
  throw new Error(`no free name in ${trash}`);
}
