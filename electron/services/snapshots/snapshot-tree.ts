/**
 * snapshots/tree.json, schema version 1: a VM's snapshot tree and the qcow2 layers behind it
 * (docs/snapshots.md). `validateSnapshotTree` checks an untrusted value field by field and
 * then the tree as a whole (parents exist, no cycles, every layer chain leads where the tree
 * says it does), returning the typed document or every problem with its path;
 * `serializeSnapshotTree` writes the fields in one fixed order.
 *
 * Every path in the file is relative to snapshots/ and must be `layers/<name>.qcow2` (a layer)
 * or `suspend-<uuid>` (the resume point's folder): the file is untrusted input and names what
 * the store creates, merges and deletes, so nothing in it may point elsewhere. The base disks
 * are recorded only to notice a changed disk list; they are never opened or removed through
 * this file.
 */
import {
  IssueList,
  describeValue,
  joinPath,
  readBoolean,
  readChoice,
  readInteger,
  readList,
  readObject,
  readString,
  type Validated,
} from '../library/validation.ts';

export const SNAPSHOT_TREE_SCHEMA_VERSION = 1;

export const snapshotKinds = ['memory', 'disk'] as const;
/** 'memory': taken running (machine state and RAM); 'disk': taken powered off (disks only). */
export type SnapshotKind = (typeof snapshotKinds)[number];

export const snapshotLimits = {
  maxNameLength: 100,
  maxDescriptionLength: 10_000,
  maxSnapshots: 10_000,
  /** As vm.json's disk list. */
  maxDisks: 16,
  maxProtectedBy: 10_000,
  maxPathLength: 4096,
} as const;

/** One snapshot, as stored. */
export interface SnapshotRecord {
  /** A lower-case UUID; also the name of its folder, snapshots/<id>/. */
  id: string;
  parentId: string | null;
  /** 1–100 characters, trimmed; not unique (lookups are by id). */
  name: string;
  description: string;
  /** ISO 8601. */
  createdAt: string;
  kind: SnapshotKind;
  /** snapshots/<id>/thumbnail.png exists. */
  thumbnail: boolean;
  /** Ids of linked clones built on this snapshot's layers; non-empty: it cannot be deleted. */
  protectedBy: string[];
  /** Per disk: the frozen layer (relative to snapshots/), or null for the base disk itself. */
  diskLayers: (string | null)[];
}

/**
 * A qcow2 file under snapshots/layers/ and the file it is backed by: another layer, or null
 * for the base disk with the same index. A layer that neither a snapshot nor the current
 * state owns is a retained layer: kept because something still depends on it.
 */
export interface LayerRecord {
  file: string;
  disk: number;
  backing: string | null;
}

/**
 * A suspended VM's saved machine: snapshots/<folder>/state.nbsnap and ram.bin, which the next
 * power-on continues from (on the current overlays, which hold the disks as they were then).
 */
export interface ResumePoint {
  /** `suspend-<lower-case uuid>`, a folder directly in snapshots/. */
  folder: string;
}

/** "You are here": the snapshot the running state descends from, and its writable overlays. */
export interface CurrentState {
  parentId: string | null;
  /** Per disk: the overlay the VM writes, or null (the base disk) before the first snapshot. */
  overlays: (string | null)[];
  /**
   * Set while the VM is suspended. Optional in the file (trees written before it existed
   * read as null), always written.
   */
  resume: ResumePoint | null;
}

export interface SnapshotTreeDocument {
  schemaVersion: typeof SNAPSHOT_TREE_SCHEMA_VERSION;
  /**
   * The base disks the tree was built on (relative to the VM folder when inside it, else
   * absolute), to notice a changed disk list. Never opened or deleted from here.
   */
  baseDisks: string[];
  current: CurrentState;
  /** In the order they were taken. */
  snapshots: SnapshotRecord[];
  layers: LayerRecord[];
}

export function emptySnapshotTree(baseDisks: readonly string[]): SnapshotTreeDocument {
  return {
    schemaVersion: SNAPSHOT_TREE_SCHEMA_VERSION,
    baseDisks: [...baseDisks],
    current: { parentId: null, overlays: baseDisks.map(() => null), resume: null },
    snapshots: [],
    layers: [],
  };
}

const snapshotIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const vmIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isoDatePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;
/** One plain file name in layers/: no dot first (never hidden, never "." or ".."). */
const layerPathPattern = /^layers\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}\.qcow2$/;
const suspendFolderPattern =
  /^suspend-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isSnapshotId(value: string): boolean {
  return snapshotIdPattern.test(value);
}

/** `suspend-<lower-case uuid>`: the only names a resume point's folder can have. */
export function isSuspendFolder(value: string): boolean {
  return suspendFolderPattern.test(value);
}

/**
 * A layer path from the file: relative to snapshots/, inside layers/, one plain name. The
 * messages say which rule broke, since an escaping path is a different problem from a typo.
 */
export function readLayerPath(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at, {
    minLength: 1,
    maxLength: snapshotLimits.maxPathLength,
  });
  if (text === undefined) return undefined;
  if (text.startsWith('/') || /^[A-Za-z]:/.test(text)) {
    issues.add(
      at,
      `must be relative to the snapshots folder, not the absolute path ${describeValue(text)}`,
    );
    return undefined;
  }
  if (text.split(/[\\/]/).includes('..')) {
    issues.add(at, `must stay inside the snapshots folder (no ".."), not ${describeValue(text)}`);
    return undefined;
  }
  if (!layerPathPattern.test(text)) {
    issues.add(at, `must be "layers/<name>.qcow2", not ${describeValue(text)}`);
    return undefined;
  }
  return text;
}

/**
 * The resume point's folder from the file: one plain name directly in snapshots/. As with
 * layer paths, the message says whether it escapes the folder or just has the wrong form.
 */
export function readSuspendFolder(
  issues: IssueList,
  value: unknown,
  at: string,
): string | undefined {
  const text = readString(issues, value, at, {
    minLength: 1,
    maxLength: snapshotLimits.maxPathLength,
  });
  if (text === undefined) return undefined;
  if (text.startsWith('/') || /^[A-Za-z]:/.test(text)) {
    issues.add(
      at,
      `must be a folder in the snapshots folder, not the absolute path ${describeValue(text)}`,
    );
    return undefined;
  }
  if (text.split(/[\\/]/).includes('..')) {
    issues.add(at, `must stay inside the snapshots folder (no ".."), not ${describeValue(text)}`);
    return undefined;
  }
  if (!suspendFolderPattern.test(text)) {
    issues.add(at, `must be "suspend-<lower-case uuid>", not ${describeValue(text)}`);
    return undefined;
  }
  return text;
}

/** `current.resume`: null, or `{ "folder": "suspend-<uuid>" }`. */
export function readResumePoint(
  issues: IssueList,
  value: unknown,
  at: string,
): ResumePoint | null | undefined {
  if (value === null) return null;
  const record = readObject(issues, value, at, { required: ['folder'] });
  if (!record) return undefined;
  const folder = field(record, 'folder', (v) =>
    readSuspendFolder(issues, v, joinPath(at, 'folder')),
  );
  return folder === undefined ? undefined : { folder };
}

export function readSnapshotName(
  issues: IssueList,
  value: unknown,
  at: string,
): string | undefined {
  // Judged and stored trimmed: "  Before upgrade " is the name "Before upgrade".
  const trimmed = typeof value === 'string' ? value.trim() : value;
  return readString(issues, trimmed, at, {
    minLength: 1,
    maxLength: snapshotLimits.maxNameLength,
  });
}

export function readSnapshotDescription(
  issues: IssueList,
  value: unknown,
  at: string,
): string | undefined {
  const text = readString(issues, value, at, {
    maxLength: snapshotLimits.maxDescriptionLength,
    allowControl: true,
  });
  if (text?.includes('\u0000')) {
    issues.add(at, 'must not contain NUL characters');
    return undefined;
  }
  return text;
}

export function readVmId(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at);
  if (text !== undefined && !vmIdPattern.test(text)) {
    issues.add(at, `must be a VM id (a UUID), not ${describeValue(text)}`);
    return undefined;
  }
  return text?.toLowerCase();
}

/** Reads a field only when present (its absence was reported by readObject). */
function field<T>(
  record: Record<string, unknown>,
  key: string,
  read: (value: unknown) => T | undefined,
): T | undefined {
  return Object.hasOwn(record, key) ? read(record[key]) : undefined;
}

export function validateSnapshotTree(raw: unknown): Validated<SnapshotTreeDocument> {
  const issues = new IssueList();
  const record = readObject(issues, raw, '', {
    required: ['schemaVersion', 'baseDisks', 'current', 'snapshots', 'layers'],
  });
  if (!record) return { ok: false, issues: issues.issues };
  if (
    Object.hasOwn(record, 'schemaVersion') &&
    record['schemaVersion'] !== SNAPSHOT_TREE_SCHEMA_VERSION
  ) {
    issues.add(
      'schemaVersion',
      `must be ${SNAPSHOT_TREE_SCHEMA_VERSION}, not ${describeValue(record['schemaVersion'])}`,
    );
  }
  const baseDisks = field(record, 'baseDisks', (value) => readBaseDisks(issues, value));
  const diskCount = baseDisks?.length;
  const current = field(record, 'current', (value) => readCurrent(issues, value, diskCount));
  const snapshots = field(record, 'snapshots', (value) => readSnapshots(issues, value, diskCount));
  const layers = field(record, 'layers', (value) => readLayers(issues, value, diskCount));
  if (
    !issues.empty ||
    baseDisks === undefined ||
    current === undefined ||
    snapshots === undefined ||
    layers === undefined
  ) {
    return { ok: false, issues: issues.issues };
  }
  const document: SnapshotTreeDocument = {
    schemaVersion: SNAPSHOT_TREE_SCHEMA_VERSION,
    baseDisks,
    current,
    snapshots,
    layers,
  };
  checkTreeShape(issues, document);
  if (!issues.empty) return { ok: false, issues: issues.issues };
  return { ok: true, value: document };
}

function readBaseDisks(issues: IssueList, value: unknown): string[] | undefined {
  const list = readList(issues, value, 'baseDisks', snapshotLimits.maxDisks);
  if (!list) return undefined;
  const disks = list.map((item, index) =>
    readString(issues, item, joinPath('baseDisks', index), {
      minLength: 1,
      maxLength: snapshotLimits.maxPathLength,
    }),
  );
  return disks.every((disk) => disk !== undefined) ? (disks as string[]) : undefined;
}

/** A per-disk list of layer paths or nulls, as long as the disk list. */
function readLayerList(
  issues: IssueList,
  value: unknown,
  at: string,
  diskCount: number | undefined,
): (string | null)[] | undefined {
  const list = readList(issues, value, at, snapshotLimits.maxDisks);
  if (!list) return undefined;
  if (diskCount !== undefined && list.length !== diskCount) {
    issues.add(at, `must hold one entry per base disk (${diskCount}), not ${list.length}`);
    return undefined;
  }
  const layers = list.map((item, index) =>
    item === null ? null : readLayerPath(issues, item, joinPath(at, index)),
  );
  return layers.every((layer) => layer !== undefined) ? layers : undefined;
}

function readSnapshotId(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at);
  if (text !== undefined && !snapshotIdPattern.test(text)) {
    issues.add(at, `must be a snapshot id (a lower-case UUID), not ${describeValue(text)}`);
    return undefined;
  }
  return text;
}

function readParentId(issues: IssueList, value: unknown, at: string): string | null | undefined {
  return value === null ? null : readSnapshotId(issues, value, at);
}

function readCurrent(
  issues: IssueList,
  value: unknown,
  diskCount: number | undefined,
): CurrentState | undefined {
  const record = readObject(issues, value, 'current', {
    required: ['parentId', 'overlays'],
    optional: ['resume'],
  });
  if (!record) return undefined;
  const parentId = field(record, 'parentId', (v) => readParentId(issues, v, 'current.parentId'));
  const overlays = field(record, 'overlays', (v) =>
    readLayerList(issues, v, 'current.overlays', diskCount),
  );
  // Absent in trees written before suspending existed: not suspended.
  const resume = Object.hasOwn(record, 'resume')
    ? readResumePoint(issues, record['resume'], 'current.resume')
    : null;
  if (parentId === undefined || overlays === undefined || resume === undefined) return undefined;
  return { parentId, overlays, resume };
}

function readSnapshots(
  issues: IssueList,
  value: unknown,
  diskCount: number | undefined,
): SnapshotRecord[] | undefined {
  const list = readList(issues, value, 'snapshots', snapshotLimits.maxSnapshots);
  if (!list) return undefined;
  const snapshots: SnapshotRecord[] = [];
  list.forEach((item, index) => {
    const at = joinPath('snapshots', index);
    const record = readObject(issues, item, at, {
      required: [
        'id',
        'parentId',
        'name',
        'description',
        'createdAt',
        'kind',
        'thumbnail',
        'protectedBy',
        'diskLayers',
      ],
    });
    if (!record) return;
    const id = field(record, 'id', (v) => readSnapshotId(issues, v, joinPath(at, 'id')));
    const parentId = field(record, 'parentId', (v) =>
      readParentId(issues, v, joinPath(at, 'parentId')),
    );
    const name = field(record, 'name', (v) => readSnapshotName(issues, v, joinPath(at, 'name')));
    const description = field(record, 'description', (v) =>
      readSnapshotDescription(issues, v, joinPath(at, 'description')),
    );
    const createdAt = field(record, 'createdAt', (v) => {
      const where = joinPath(at, 'createdAt');
      const text = readString(issues, v, where);
      if (text !== undefined && (!isoDatePattern.test(text) || Number.isNaN(Date.parse(text)))) {
        issues.add(
          where,
          `must be a date such as 2025-01-31T12:00:00Z, not ${describeValue(text)}`,
        );
        return undefined;
      }
      return text;
    });
    const kind = field(record, 'kind', (v) =>
      readChoice(issues, v, joinPath(at, 'kind'), snapshotKinds),
    );
    const thumbnail = field(record, 'thumbnail', (v) =>
      readBoolean(issues, v, joinPath(at, 'thumbnail')),
    );
    const protectedBy = field(record, 'protectedBy', (v) =>
      readProtectedBy(issues, v, joinPath(at, 'protectedBy')),
    );
    const diskLayers = field(record, 'diskLayers', (v) =>
      readLayerList(issues, v, joinPath(at, 'diskLayers'), diskCount),
    );
    if (
      id === undefined ||
      parentId === undefined ||
      name === undefined ||
      description === undefined ||
      createdAt === undefined ||
      kind === undefined ||
      thumbnail === undefined ||
      protectedBy === undefined ||
      diskLayers === undefined
    ) {
      return;
    }
    snapshots.push({
      id,
      parentId,
      name,
      description,
      createdAt,
      kind,
      thumbnail,
      protectedBy,
      diskLayers,
    });
  });
  return snapshots.length === list.length ? snapshots : undefined;
}

function readProtectedBy(issues: IssueList, value: unknown, at: string): string[] | undefined {
  const list = readList(issues, value, at, snapshotLimits.maxProtectedBy);
  if (!list) return undefined;
  const ids: string[] = [];
  list.forEach((item, index) => {
    const id = readVmId(issues, item, joinPath(at, index));
    if (id === undefined) return;
    if (ids.includes(id)) {
      issues.add(joinPath(at, index), `lists ${id} twice`);
      return;
    }
    ids.push(id);
  });
  return ids.length === list.length ? ids : undefined;
}

function readLayers(
  issues: IssueList,
  value: unknown,
  diskCount: number | undefined,
): LayerRecord[] | undefined {
  // Each disk has at most one layer per snapshot, one overlay and retained layers.
  const list = readList(
    issues,
    value,
    'layers',
    (snapshotLimits.maxSnapshots + 1) * snapshotLimits.maxDisks * 2,
  );
  if (!list) return undefined;
  const layers: LayerRecord[] = [];
  list.forEach((item, index) => {
    const at = joinPath('layers', index);
    const record = readObject(issues, item, at, { required: ['file', 'disk', 'backing'] });
    if (!record) return;
    const file = field(record, 'file', (v) => readLayerPath(issues, v, joinPath(at, 'file')));
    const disk = field(record, 'disk', (v) =>
      readInteger(issues, v, joinPath(at, 'disk'), {
        min: 0,
        max: Math.max(0, (diskCount ?? snapshotLimits.maxDisks) - 1),
      }),
    );
    const backing = field(record, 'backing', (v) =>
      v === null ? null : readLayerPath(issues, v, joinPath(at, 'backing')),
    );
    if (file === undefined || disk === undefined || backing === undefined) return;
    layers.push({ file, disk, backing });
  });
  return layers.length === list.length ? layers : undefined;
}

/**
 * The rules that tie the parts together: ids unique, parents exist without cycles, every
 * layer known and owned once, and each owned layer's backing chain, through retained layers,
 * reaching exactly the layer of its parent snapshot (or the base disk at the root).
 */
function checkTreeShape(issues: IssueList, document: SnapshotTreeDocument): void {
  const { snapshots, layers, current } = document;
  const byId = new Map<string, SnapshotRecord>();
  snapshots.forEach((snapshot, index) => {
    if (byId.has(snapshot.id)) {
      issues.add(joinPath(joinPath('snapshots', index), 'id'), `${snapshot.id} is used twice`);
    }
    byId.set(snapshot.id, snapshot);
  });
  snapshots.forEach((snapshot, index) => {
    const at = joinPath(joinPath('snapshots', index), 'parentId');
    if (snapshot.parentId === null) return;
    if (!byId.has(snapshot.parentId)) {
      issues.add(at, `names ${snapshot.parentId}, which is not in the tree`);
      return;
    }
    const seen = new Set<string>([snapshot.id]);
    for (
      let id: string | null = snapshot.parentId;
      id !== null;
      id = byId.get(id)?.parentId ?? null
    ) {
      if (seen.has(id)) {
        issues.add(at, 'makes the snapshot its own ancestor');
        return;
      }
      seen.add(id);
    }
  });
  if (current.parentId !== null && !byId.has(current.parentId)) {
    issues.add('current.parentId', `names ${current.parentId}, which is not in the tree`);
  }

  const layerByFile = new Map<string, LayerRecord>();
  layers.forEach((layer, index) => {
    const at = joinPath('layers', index);
    if (layerByFile.has(layer.file))
      issues.add(joinPath(at, 'file'), `${layer.file} is listed twice`);
    if (layer.disk >= document.baseDisks.length) {
      issues.add(joinPath(at, 'disk'), `there is no disk ${layer.disk}`);
    }
    layerByFile.set(layer.file, layer);
  });
  layers.forEach((layer, index) => {
    const at = joinPath(joinPath('layers', index), 'backing');
    if (layer.backing === null) return;
    const backing = layerByFile.get(layer.backing);
    if (!backing) {
      issues.add(at, `names ${layer.backing}, which is not in the list of layers`);
    } else if (backing.disk !== layer.disk) {
      issues.add(at, `names ${layer.backing}, a layer of disk ${backing.disk}, not ${layer.disk}`);
    }
    const seen = new Set<string>([layer.file]);
    for (
      let file: string | null = layer.backing;
      file !== null;
      file = layerByFile.get(file)?.backing ?? null
    ) {
      if (seen.has(file)) {
        issues.add(at, 'makes the layer its own backing file');
        return;
      }
      seen.add(file);
    }
  });
  if (!issues.empty) return;

  // Ownership: each layer belongs to at most one snapshot or overlay.
  const owner = new Map<string, string>();
  const claim = (file: string, disk: number, at: string): boolean => {
    const layer = layerByFile.get(file);
    if (!layer) {
      issues.add(at, `names ${file}, which is not in the list of layers`);
      return false;
    }
    if (layer.disk !== disk) {
      issues.add(at, `names ${file}, a layer of disk ${layer.disk}, not ${disk}`);
      return false;
    }
    const previous = owner.get(file);
    if (previous !== undefined) {
      issues.add(at, `names ${file}, already used by ${previous}`);
      return false;
    }
    owner.set(file, at);
    return true;
  };
  const owned: { file: string; disk: number; expected: string | null; at: string }[] = [];
  snapshots.forEach((snapshot, index) => {
    const parent = snapshot.parentId === null ? undefined : byId.get(snapshot.parentId);
    snapshot.diskLayers.forEach((file, disk) => {
      const at = joinPath(joinPath(joinPath('snapshots', index), 'diskLayers'), disk);
      if (file === null) {
        if (parent) issues.add(at, 'is null (the base disk), which only a root snapshot can have');
        return;
      }
      if (claim(file, disk, at)) {
        owned.push({ file, disk, expected: parent?.diskLayers[disk] ?? null, at });
      }
    });
  });
  const position = current.parentId === null ? undefined : byId.get(current.parentId);
  current.overlays.forEach((file, disk) => {
    const at = joinPath('current.overlays', disk);
    if (file === null) {
      if (snapshots.length > 0 || layers.some((layer) => layer.disk === disk)) {
        issues.add(at, 'is null (the base disk), which is only possible before the first snapshot');
      }
      return;
    }
    if (claim(file, disk, at)) {
      owned.push({ file, disk, expected: position?.diskLayers[disk] ?? null, at });
    }
  });
  if (!issues.empty) return;

  for (const { file, expected, at } of owned) {
    let backing = layerByFile.get(file)?.backing ?? null;
    while (backing !== null && !owner.has(backing)) {
      backing = layerByFile.get(backing)?.backing ?? null;
    }
    if (backing !== expected) {
      const found = backing ?? 'the base disk';
      issues.add(
        at,
        `names ${file}, whose backing chain reaches ${found} instead of ${expected ?? 'the base disk'}`,
      );
    }
  }
}

/** Fixed field order and two-space indentation, so hand edits and diffs stay readable. */
export function serializeSnapshotTree(document: SnapshotTreeDocument): string {
  const ordered = {
    schemaVersion: document.schemaVersion,
    baseDisks: document.baseDisks,
    current: {
      parentId: document.current.parentId,
      overlays: document.current.overlays,
      resume: document.current.resume ? { folder: document.current.resume.folder } : null,
    },
    snapshots: document.snapshots.map((snapshot) => ({
      id: snapshot.id,
      parentId: snapshot.parentId,
      name: snapshot.name,
      description: snapshot.description,
      createdAt: snapshot.createdAt,
      kind: snapshot.kind,
      thumbnail: snapshot.thumbnail,
      protectedBy: snapshot.protectedBy,
      diskLayers: snapshot.diskLayers,
    })),
    layers: document.layers.map((layer) => ({
      file: layer.file,
      disk: layer.disk,
      backing: layer.backing,
    })),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** A deep copy to change without touching the committed document. */
export function cloneSnapshotTree(document: SnapshotTreeDocument): SnapshotTreeDocument {
  return structuredClone(document);
}
