/**
 * Reads one VM folder's vm.json and says precisely what is wrong with it when it cannot be
 * used. Reading never changes anything on disk: a broken file stays byte for byte as it was,
 * for the user (or a newer Nestbox) to deal with.
 */
import { lstat, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseJsonText } from './json-text.ts';
import { formatIssues, type ValidationIssue } from './validation.ts';
import {
  VM_SCHEMA_VERSION,
  claimedSchemaVersion,
  validateVmConfig,
  type VmConfig,
} from './vm-config.ts';

export const VM_CONFIG_FILE = 'vm.json';
/** Far more than any real vm.json; protects against reading a huge file by mistake. */
export const MAX_VM_CONFIG_BYTES = 1024 * 1024;

export type VmProblemCode =
  /** The folder has no vm.json: not a Nestbox VM, or a half-made one. */
  | 'missing-config'
  /** vm.json could not be read (permissions, I/O error, or it is a folder). */
  | 'unreadable'
  | 'too-large'
  /** Not JSON (or not UTF-8): `line` and `column` point at the first error. */
  | 'invalid-json'
  /** Written by a newer Nestbox: left alone rather than misread. */
  | 'unsupported-version'
  /** JSON, but fields are missing or wrong: `issues` lists each with its path. */
  | 'invalid-config'
  /** The same id as a VM listed earlier: the folder is a copy. */
  | 'duplicate-id'
  /** An imported folder that no longer exists (moved, deleted, or a drive not mounted). */
  | 'folder-missing';

export interface VmProblem {
  code: VmProblemCode;
  /** One readable paragraph, complete on its own. */
  message: string;
  issues?: ValidationIssue[];
  line?: number;
  column?: number;
}

export type VmFolderRead = { ok: true; config: VmConfig } | { ok: false; problem: VmProblem };

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function vmConfigPath(folder: string): string {
  return path.join(folder, VM_CONFIG_FILE);
}

export async function readVmFolder(folder: string): Promise<VmFolderRead> {
  const file = vmConfigPath(folder);
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(file);
  } catch (error) {
    return { ok: false, problem: await problemForReadError(folder, file, error) };
  }
  return parseVmConfigBytes(file, bytes);
}

class TooLargeError extends Error {}

async function readLimited(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const info = await handle.stat();
    if (info.isDirectory()) {
      throw Object.assign(new Error(`${file} is a folder, not a file`), { code: 'EISDIR' });
    }
    if (info.size > MAX_VM_CONFIG_BYTES) throw new TooLargeError();
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

async function problemForReadError(
  folder: string,
  file: string,
  error: unknown,
): Promise<VmProblem> {
  if (error instanceof TooLargeError) {
    return {
      code: 'too-large',
      message: `${file} is larger than ${MAX_VM_CONFIG_BYTES / 1024} KiB; it is not a vm.json Nestbox wrote.`,
    };
  }
  const code = errnoCode(error);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    try {
      const info = await stat(folder);
      if (!info.isDirectory()) {
        return { code: 'folder-missing', message: `${folder} is not a folder.` };
      }
    } catch {
      return {
        code: 'folder-missing',
        message: `${folder} does not exist any more (moved, deleted, or on a drive that is not mounted).`,
      };
    }
    return {
      code: 'missing-config',
      message: `${folder} has no ${VM_CONFIG_FILE}, so it is not a Nestbox VM (or it was not finished).`,
    };
  }
  if (code === 'EISDIR') {
    return { code: 'unreadable', message: `${file} is a folder, not a file.` };
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return {
      code: 'unreadable',
      message: `${file} cannot be read: permission denied. Check the file's owner and permissions.`,
    };
  }
  return { code: 'unreadable', message: `${file} cannot be read: ${describeError(error)}` };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Classifies a vm.json's content; `file` only names it in messages. */
export function parseVmConfigBytes(file: string, bytes: Uint8Array): VmFolderRead {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return {
      ok: false,
      problem: { code: 'invalid-json', message: `${file} is not UTF-8 text.` },
    };
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    return {
      ok: false,
      problem: {
        code: 'invalid-json',
        message: `${file} is not valid JSON: line ${parsed.line}, column ${parsed.column}: ${parsed.message}.`,
        line: parsed.line,
        column: parsed.column,
      },
    };
  }
  const version = claimedSchemaVersion(parsed.value);
  if (version !== undefined && version > VM_SCHEMA_VERSION) {
    return {
      ok: false,
      problem: {
        code: 'unsupported-version',
        message:
          `${file} has schema version ${version}, from a newer Nestbox; this version reads ` +
          `version ${VM_SCHEMA_VERSION}. Update Nestbox to use this VM.`,
      },
    };
  }
  const validated = validateVmConfig(parsed.value);
  if (!validated.ok) {
    return {
      ok: false,
      problem: {
        code: 'invalid-config',
        message: `${file} has ${plural(validated.issues.length, 'problem')}:\n${formatIssues(validated.issues)}`,
        issues: validated.issues,
      },
    };
  }
  return { ok: true, config: validated.value };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Temp files atomicWriteFile makes beside vm.json: `.vm.json.<hex>.tmp`. */
const configTempFile = /^\.vm\.json\.[0-9a-f]+\.tmp$/;
/** Old enough that no writer (this process or another) can still be using it. */
const staleTempAgeMs = 10 * 60 * 1000;

/**
 * Removes temp files a crash left between writing and renaming (the real vm.json is intact).
 * `minimumAgeMs` 0 removes them all, for a folder this process just made.
 */
export async function removeStaleConfigTemps(
  folder: string,
  minimumAgeMs = staleTempAgeMs,
  now = Date.now(),
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return;
  }
  for (const name of names) {
    if (!configTempFile.test(name)) continue;
    const file = path.join(folder, name);
    try {
      // Age 0 skips the clock: a file's mtime can be a fraction of a millisecond past Date.now().
      if (minimumAgeMs <= 0 || now - (await lstat(file)).mtimeMs >= minimumAgeMs) {
        await rm(file, { force: true });
      }
    } catch {
      // Gone already, or not ours to remove: harmless either way.
    }
  }
}
