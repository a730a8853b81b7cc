/**
 * Where `nestbox serve` leaves its token for other local clients (the CLI, scripts) of the
 * same user: `$XDG_RUNTIME_DIR/nestbox/serve-token`, which is per-user, in memory and removed
 * at logout; `~/.cache/nestbox/serve-token` where there is no runtime directory. The file is
 * 0600 inside a 0700 directory that must belong to the current user.
 */
import { lstat, mkdir, chmod, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { atomicWriteFile } from '../services/atomic-write-file.ts';

export function serveTokenPath(env: NodeJS.ProcessEnv = process.env): string {
  const runtimeDir = env['XDG_RUNTIME_DIR'];
  // The XDG spec says to ignore relative paths.
  const base =
    runtimeDir && path.isAbsolute(runtimeDir)
      ? runtimeDir
      : path.join(env['HOME'] || os.homedir(), '.cache');
  return path.join(base, 'nestbox', 'serve-token');
}

/** Creates the directory 0700, or checks that an existing one is ours and not a symlink. */
async function ensurePrivateDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const info = await lstat(directory);
  if (!info.isDirectory()) {
    throw new Error(`${directory} is not a directory; remove it and start nestbox serve again`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new Error(`${directory} belongs to another user; refusing to store the token there`);
  }
  if ((info.mode & 0o777) !== 0o700) await chmod(directory, 0o700);
}

export async function writeTokenFile(filePath: string, token: string): Promise<void> {
  await ensurePrivateDirectory(path.dirname(filePath));
  await atomicWriteFile(filePath, `${token}\n`, { mode: 0o600 });
}

/**
 * Removes the file only if it still holds our token: a second `nestbox serve` started later
 * owns it now, and stopping the first must not break the second's clients.
 */
export async function removeTokenFile(filePath: string, token: string): Promise<void> {
  try {
    if ((await readFile(filePath, 'utf8')).trim() === token) await rm(filePath, { force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
