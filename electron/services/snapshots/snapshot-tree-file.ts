/**
 * Reading snapshots/tree.json. Reading never changes anything: a broken or newer file is
 * reported with the reason and left byte for byte as it was. When the file is broken, the
 * current overlays can often still be read from it, so the VM keeps running on its current
 * state while the user (or a newer Nestbox) deals with the rest: see salvageCurrentOverlays
 * and salvageResumePoint.
 */
import { open } from 'node:fs/promises';
import { parseJsonText } from '../library/json-text.ts';
import { IssueList, formatIssues } from '../library/validation.ts';
import { SnapshotStoreError, messageOf } from './snapshot-error.ts';
import {
  SNAPSHOT_TREE_SCHEMA_VERSION,
  readLayerPath,
  readResumePoint,
  validateSnapshotTree,
  type ResumePoint,
  type SnapshotTreeDocument,
} from './snapshot-tree.ts';

/** Far more than 10 000 snapshots need; protects against reading a huge file by mistake. */
export const MAX_TREE_FILE_BYTES = 16 * 1024 * 1024;

export type TreeFileRead =
  | { status: 'missing' }
  | { status: 'ok'; document: SnapshotTreeDocument }
  /** `raw`: the parsed JSON when there was some, for salvageCurrentOverlays. */
  | { status: 'problem'; error: SnapshotStoreError; raw?: unknown };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export async function readTreeFile(file: string): Promise<TreeFileRead> {
  let bytes: Uint8Array;
  try {
    const handle = await open(file, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) {
        return problem('snapshot-tree-unreadable', `${file} is not a file.`);
      }
      if (info.size > MAX_TREE_FILE_BYTES) {
        return problem(
          'snapshot-tree-corrupt',
          `${file} is larger than ${MAX_TREE_FILE_BYTES / 1024 / 1024} MiB; it is not a snapshot tree Nestbox wrote.`,
        );
      }
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { status: 'missing' };
    return problem('snapshot-tree-unreadable', `${file} cannot be read: ${messageOf(error)}`);
  }
  return parseTreeBytes(file, bytes);
}

function problem(
  code: ConstructorParameters<typeof SnapshotStoreError>[0],
  message: string,
  extra: { raw?: unknown; issues?: SnapshotStoreError['issues'] } = {},
): TreeFileRead {
  return {
    status: 'problem',
    error: new SnapshotStoreError(code, message, extra.issues ?? []),
    raw: extra.raw,
  };
}

/** Classifies tree.json's content; `file` only names it in messages. */
export function parseTreeBytes(file: string, bytes: Uint8Array): TreeFileRead {
  const untouched = 'Nothing was changed; the snapshots cannot be used until it is fixed.';
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return problem('snapshot-tree-corrupt', `${file} is not UTF-8 text. ${untouched}`);
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    return problem(
      'snapshot-tree-corrupt',
      `${file} is not valid JSON: line ${parsed.line}, column ${parsed.column}: ${parsed.message}. ${untouched}`,
    );
  }
  const raw = parsed.value;
  const version =
    typeof raw === 'object' && raw !== null
      ? (raw as Record<string, unknown>)['schemaVersion']
      : undefined;
  if (
    typeof version === 'number' &&
    Number.isInteger(version) &&
    version > SNAPSHOT_TREE_SCHEMA_VERSION
  ) {
    return problem(
      'snapshot-tree-newer',
      `${file} was written by a newer Nestbox (schema version ${version}; this version reads ` +
        `${SNAPSHOT_TREE_SCHEMA_VERSION}). Update Nestbox to use this VM's snapshots.`,
    );
  }
  const validated = validateSnapshotTree(raw);
  if (!validated.ok) {
    return problem(
      'snapshot-tree-corrupt',
      `${file} has ${plural(validated.issues.length, 'problem')}:\n${formatIssues(validated.issues)}\n${untouched}`,
      { raw, issues: validated.issues },
    );
  }
  return { status: 'ok', document: validated.value };
}

/**
 * From a tree.json that fails validation: the overlays the VM was writing, per recorded base
 * disk (null: the base disk itself), when that part of the file is intact and safe to use —
 * every overlay a valid layer path that no snapshot claims as its frozen layer (writing a
 * frozen layer would corrupt every snapshot above it). Undefined when in doubt.
 */
export function salvageCurrentOverlays(
  raw: unknown,
): { baseDisks: string[]; overlays: (string | null)[] } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  const baseDisks = record['baseDisks'];
  const current = record['current'];
  const snapshots = record['snapshots'];
  if (!Array.isArray(baseDisks) || !baseDisks.every((disk) => typeof disk === 'string')) {
    return undefined;
  }
  if (typeof current !== 'object' || current === null || !Array.isArray(snapshots)) {
    return undefined;
  }
  const overlays = (current as Record<string, unknown>)['overlays'];
  if (!Array.isArray(overlays) || overlays.length !== baseDisks.length) return undefined;
  const frozen = new Set<unknown>();
  for (const snapshot of snapshots) {
    const layers = (snapshot as Record<string, unknown> | null)?.['diskLayers'];
    if (!Array.isArray(layers)) return undefined;
    for (const layer of layers) frozen.add(layer);
  }
  const issues = new IssueList();
  const result: (string | null)[] = [];
  for (const overlay of overlays) {
    if (overlay === null) {
      // The base disk is writable only while no snapshot exists.
      if (snapshots.length > 0) return undefined;
      result.push(null);
      continue;
    }
    const file = readLayerPath(issues, overlay, 'overlay');
    if (file === undefined || frozen.has(file)) return undefined;
    result.push(file);
  }
  return { baseDisks: baseDisks as string[], overlays: result };
}

/**
 * From a tree.json that fails validation: whether `current.resume` clearly says "not
 * suspended" (null, or absent as in trees written before suspending existed): null then, and
 * the resume point itself when it is intact; undefined when `current` is not an object or the
 * field is malformed. The store resumes from neither with a broken tree (using a resume point
 * means committing its removal, which a broken tree does not allow; see resumeFiles): only
 * the clear "not suspended" lets the VM boot afresh.
 */
export function salvageResumePoint(raw: unknown): ResumePoint | null | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const current = (raw as Record<string, unknown>)['current'];
  if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
  const record = current as Record<string, unknown>;
  if (!Object.hasOwn(record, 'resume')) return null;
  const issues = new IssueList();
  const resume = readResumePoint(issues, record['resume'], 'current.resume');
  return issues.empty ? resume : undefined;
}
