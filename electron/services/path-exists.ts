import { lstat } from 'node:fs/promises';

/** Whether anything (a file, folder or dangling symlink) has this name. */
export async function pathExists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}
