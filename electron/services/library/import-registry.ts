/**
 * `library.json` in the library root: the VM folders that live elsewhere (imported, e.g. on
 * another drive) and belong to the library all the same. Folders inside the root need no
 * entry; they are found by listing the root. A broken library.json is reported and left as
 * it is: imports are refused until it is fixed, so nothing the user wrote is overwritten.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteFile } from '../atomic-write-file.ts';
import { parseJsonText } from './json-text.ts';
import {
  IssueList,
  describeValue,
  formatIssues,
  joinPath,
  readList,
  readObject,
  readString,
} from './validation.ts';

export const REGISTRY_FILE = 'library.json';
const REGISTRY_SCHEMA_VERSION = 1;
const maxImported = 10_000;

export interface ImportRegistry {
  /** Absolute folder paths, in the order they were imported. */
  imported: string[];
}

export type RegistryRead = { ok: true; registry: ImportRegistry } | { ok: false; problem: string };

export function registryPath(root: string): string {
  return path.join(root, REGISTRY_FILE);
}

export async function readImportRegistry(root: string): Promise<RegistryRead> {
  const file = registryPath(root);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { ok: true, registry: { imported: [] } };
    }
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, problem: `${file} cannot be read: ${reason}` };
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    return {
      ok: false,
      problem: `${file} is not valid JSON: line ${parsed.line}, column ${parsed.column}: ${parsed.message}.`,
    };
  }
  const issues = new IssueList();
  const record = readObject(issues, parsed.value, '', { required: ['schemaVersion', 'imported'] });
  if (record && Object.hasOwn(record, 'schemaVersion')) {
    if (record['schemaVersion'] !== REGISTRY_SCHEMA_VERSION) {
      issues.add(
        'schemaVersion',
        `must be ${REGISTRY_SCHEMA_VERSION}, not ${describeValue(record['schemaVersion'])}`,
      );
    }
  }
  const imported: string[] = [];
  const list =
    record && Object.hasOwn(record, 'imported')
      ? readList(issues, record['imported'], 'imported', maxImported)
      : undefined;
  list?.forEach((item, index) => {
    const where = joinPath('imported', index);
    const folder = readString(issues, item, where, { minLength: 1 });
    if (folder === undefined) return;
    if (!path.isAbsolute(folder)) {
      issues.add(where, `must be an absolute path, not ${describeValue(folder)}`);
      return;
    }
    imported.push(folder);
  });
  if (!issues.empty) {
    return { ok: false, problem: `${file} is not valid:\n${formatIssues(issues.issues)}` };
  }
  return { ok: true, registry: { imported } };
}

export async function writeImportRegistry(
  root: string,
  registry: ImportRegistry,
  write: (file: string, data: string) => Promise<void> = atomicWriteFile,
): Promise<void> {
  const document = { schemaVersion: REGISTRY_SCHEMA_VERSION, imported: registry.imported };
  await write(registryPath(root), `${JSON.stringify(document, null, 2)}\n`);
}
