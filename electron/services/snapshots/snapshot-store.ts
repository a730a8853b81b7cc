/**
 * A VM's snapshot tree on disk (docs/snapshots.md): take, revert, delete, rename, protect for
 * linked clones, and the disk files the VM must open now.
 *
 * Every operation follows one rule: create new files first, commit tree.json atomically,
 * delete what is no longer referenced last. Opening the store removes whatever tree.json
 * does not reference. So a crash at any point leaves the old tree or the new one, each with
 * all its files, and at worst some unreferenced files that the next open removes.
 *
 * Deleting a snapshot is two commits: the node goes and its layers become retained layers,
 * then each retained layer is merged into what depends on it (committing after each merge)
 * unless another process has those files open (a running VM's chain, a linked clone's); then
 * it waits for a later delete or collectRetained.
 *
 * A suspended VM's machine (state and RAM) is the resume point, recorded in the same tree
 * (`current.resume`) by the same rule: the new folder first, then the commit, then the old
 * folder goes. A revert drops it in its own commit; a take or a delete keeps it.
 *
 * Plain Node: the qcow2 work comes in as DiskLayerOps (the native addon, or a fake).
 */
import { randomUUID } from 'node:crypto';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { KeyedMutex } from '../library/keyed-mutex.ts';
import { IssueList, formatIssues } from '../library/validation.ts';
import { isMergeAborted, type DiskLayerOps } from './disk-layer-ops.ts';
import {
  nextMerge,
  pinnedLayers,
  planDeleteNode,
  planMerge,
  planRevert,
  planTake,
  plannedMerges,
  pruneLayers,
  retainedLayers,
} from './layer-plan.ts';
import { SnapshotStoreError, messageOf, type SnapshotErrorCode } from './snapshot-error.ts';
import { nodeSnapshotFileSystem, type SnapshotFileSystem } from './snapshot-file-system.ts';
import { referencedEntries, removeUnreferenced } from './snapshot-gc.ts';
import {
  SUSPEND_FOLDER_PREFIX,
  SnapshotLayout,
  newLayerName,
  treeTempFile,
  type SnapshotFiles,
  type SuspendFiles,
} from './snapshot-layout.ts';
import {
  cloneSnapshotTree,
  emptySnapshotTree,
  isSnapshotId,
  isSuspendFolder,
  readSnapshotDescription,
  readSnapshotName,
  readVmId,
  serializeSnapshotTree,
  snapshotKinds,
  validateSnapshotTree,
  type ResumePoint,
  type SnapshotKind,
  type SnapshotRecord,
  type SnapshotTreeDocument,
} from './snapshot-tree.ts';
import { readTreeFile, salvageCurrentOverlays, salvageResumePoint } from './snapshot-tree-file.ts';

// The tree as the CLI and the UI see it: the wire types are the store's own.
export type { SnapshotNode, SnapshotTree } from '../../common/snapshot-types.ts';
import type { SnapshotNode, SnapshotTree } from '../../common/snapshot-types.ts';

/**
 * A snapshot of `tree` by id, or by name when only one has it; SnapshotStoreError
 * 'snapshot-not-found' or 'snapshot-ambiguous' (listing the ids) otherwise. Also for a tree
 * that came from a VM host.
 */
export function findSnapshot(tree: SnapshotTree, nameOrId: string): SnapshotNode {
  const byId = tree.nodes.find((node) => node.id === nameOrId);
  if (byId) return byId;
  const wanted = nameOrId.trim();
  const matches = tree.nodes.filter((node) => node.name === wanted);
  const [only] = matches;
  if (matches.length === 1 && only) return only;
  if (matches.length === 0) {
    throw new SnapshotStoreError(
      'snapshot-not-found',
      `No snapshot is named or has the id "${nameOrId}".`,
    );
  }
  const list = matches.map((node) => `  ${node.id}  taken ${node.createdAt}`).join('\n');
  throw new SnapshotStoreError(
    'snapshot-ambiguous',
    `${matches.length} snapshots are named "${wanted}"; use one of their ids:\n${list}`,
  );
}

export interface TakeRequest {
  name: string;
  description?: string;
  kind: SnapshotKind;
}

/** A snapshot made but not committed: the caller writes its files, then commits or abandons. */
export interface PreparedTake extends SnapshotFiles {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly kind: SnapshotKind;
  readonly createdAt: string;
  /** The new overlays, one per base disk: what the VM writes once the take is committed. */
  readonly diskFiles: readonly string[];
}

/**
 * A resume point made but not committed: the caller writes state.nbsnap and ram.bin into
 * `directory`, then commitSuspend or abandonSuspend.
 */
export type PreparedSuspend = Readonly<SuspendFiles>;

/** A resume point's files, absolute. Read them only: they may share an inode with a snapshot's. */
export interface ResumeFiles {
  stateFile: string;
  ramFile: string;
}

export interface RevertResult {
  /** What the VM opens now, one per base disk. */
  diskFiles: string[];
  /** For a memory snapshot: the machine state to restore. */
  memory: { stateFile: string; ramFile: string } | null;
}

export interface DeleteOptions {
  /** The VM runs (in this process): its chain is pinned, merges into it wait. */
  vmRunning: boolean;
  /**
   * Bytes of the merges done so far, of all of them (each merge counts its dependent's
   * virtual size): from (0, total) up to (total, total), never decreasing. (0, 0) when
   * nothing is merged.
   */
  onProgress?: (done: number, total: number) => void;
  /** Cancels the delete until it commits (see `delete`): it then throws the signal's reason. */
  signal?: AbortSignal;
}

interface MergePlanEntry {
  layer: string;
  dependent: string;
  /** The dependent's virtual size. */
  size: number;
  /** Backed by the layer before any merge: copied before ➊. */
  copyAhead: boolean;
  /** Its copy-only merge finished. */
  copied: boolean;
  done: number;
}

interface MergePlan {
  entries: MergePlanEntry[];
  report(entry: MergePlanEntry, done: number): void;
  find(layer: string, dependent: string): MergePlanEntry | undefined;
  /** Everything done (or all that will be): reports the total. */
  finish(): void;
}

export interface CollectResult {
  /** Bytes the deleted files occupied. */
  freedBytes: number;
  /** Hidden layers still waiting (another process has their files open). */
  retainedLayers: number;
  /** Why merging stopped early, if it did; the tree is consistent either way. */
  collectProblem?: string;
}

/**
 * What one process shares between every store it opens: a lock per VM folder (so stores
 * opened twice on one VM queue behind each other) and the files of takes and suspends
 * prepared but not committed (which opening another store must not collect). Tests make one
 * per simulated process.
 */
export class SnapshotProcessState {
  readonly locks = new KeyedMutex();
  readonly pending = new Map<string, Set<string>>();

  pendingFor(folder: string): Set<string> {
    let set = this.pending.get(folder);
    if (!set) {
      set = new Set();
      this.pending.set(folder, set);
    }
    return set;
  }
}

const sharedProcessState = new SnapshotProcessState();

export interface SnapshotStoreOptions {
  /**
   * Remove what tree.json does not reference when opening (default true). False when another
   * process (a running VM's host) may be in the middle of an operation on this tree: its
   * prepared files are not yet referenced and must not be collected from here.
   */
  collect?: boolean;
  /** Tests inject failures here; default: node:fs with atomicWriteFile. */
  fs?: SnapshotFileSystem;
  now?: () => Date;
  /** Snapshot ids; default randomUUID. */
  randomId?: () => string;
  /** For layer file names. */
  randomBytes?: (size: number) => Uint8Array;
  /** Default: one shared by the whole process. */
  processState?: SnapshotProcessState;
}

interface PreparedState {
  parentId: string | null;
  tops: (string | null)[];
  overlays: string[];
}

interface PreparedSuspendState {
  folder: string;
  /** The current state it was saved on: committing it onto another would be wrong. */
  parentId: string | null;
  overlays: (string | null)[];
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function checked<T>(
  code: 'invalid-name' | 'invalid-description' | 'invalid-request',
  read: (issues: IssueList) => T | undefined,
): T {
  const issues = new IssueList();
  const value = read(issues);
  if (value === undefined || !issues.empty) {
    throw new SnapshotStoreError(code, formatIssues(issues.issues), issues.issues);
  }
  return value;
}

export class SnapshotStore {
  readonly vmFolder: string;
  readonly #layout: SnapshotLayout;
  /** Absolute, in vm.json's order. */
  readonly #baseDisks: string[];
  /** As tree.json records them. */
  readonly #baseKeys: string[];
  readonly #ops: DiskLayerOps;
  readonly #fs: SnapshotFileSystem;
  readonly #now: () => Date;
  readonly #randomId: () => string;
  readonly #randomBytes: ((size: number) => Uint8Array) | undefined;
  readonly #process: SnapshotProcessState;
  readonly #prepared = new WeakMap<PreparedTake, PreparedState>();
  readonly #preparedSuspends = new WeakMap<PreparedSuspend, PreparedSuspendState>();
  #document: SnapshotTreeDocument;
  #treeExists = false;
  #problem: SnapshotStoreError | null = null;
  /** With a broken tree.json: the current files per base key, when they could be salvaged. */
  #salvaged: { baseDisks: string[]; overlays: (string | null)[] } | null = null;
  /** With a broken tree.json: its resume point (null: clearly none), undefined when in doubt. */
  #salvagedResume: ResumePoint | null | undefined = undefined;

  private constructor(
    vmFolder: string,
    baseDisks: readonly string[],
    ops: DiskLayerOps,
    options: SnapshotStoreOptions,
  ) {
    this.#layout = new SnapshotLayout(vmFolder);
    this.vmFolder = this.#layout.vmFolder;
    this.#baseKeys = baseDisks.map((disk) => this.#layout.baseDiskKey(disk));
    this.#baseDisks = baseDisks.map((disk) => path.resolve(disk));
    this.#ops = ops;
    this.#fs = options.fs ?? nodeSnapshotFileSystem;
    this.#now = options.now ?? (() => new Date());
    this.#randomId = options.randomId ?? randomUUID;
    this.#randomBytes = options.randomBytes;
    this.#process = options.processState ?? sharedProcessState;
    this.#document = emptySnapshotTree(this.#baseKeys);
  }

  /**
   * Reads and validates tree.json and collects garbage. A broken, newer or missing tree
   * does not make this throw: it is kept in `problem`, nothing is changed on disk, and every
   * operation but currentDiskFiles (which uses what can be salvaged) throws it.
   */
  static async open(
    vmFolder: string,
    baseDisks: readonly string[],
    ops: DiskLayerOps,
    options: SnapshotStoreOptions = {},
  ): Promise<SnapshotStore> {
    const store = new SnapshotStore(vmFolder, baseDisks, ops, options);
    const collect = options.collect ?? true;
    await store.#process.locks.run(store.vmFolder, () => store.#load({ collect }));
    return store;
  }

  /** Why the snapshots cannot be used now (the tree, or a changed disk list), or null. */
  get problem(): SnapshotStoreError | null {
    return this.#problem ?? this.#diskProblem();
  }

  tree(): SnapshotTree {
    if (this.#problem) throw this.#problem;
    const { snapshots, current } = this.#document;
    const order = new Map(snapshots.map((snapshot, index) => [snapshot.id, index]));
    const oldestFirst = (a: SnapshotRecord, b: SnapshotRecord) =>
      Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
      (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0);
    const childrenOf = (parentId: string | null) =>
      snapshots.filter((s) => s.parentId === parentId).sort(oldestFirst);
    const nodes: SnapshotNode[] = [];
    const visit = (snapshot: SnapshotRecord) => {
      const children = childrenOf(snapshot.id);
      nodes.push(toNode(snapshot, children));
      children.forEach(visit);
    };
    const roots = childrenOf(null);
    roots.forEach(visit);
    return {
      nodes,
      roots: roots.map((root) => root.id),
      currentId: current.parentId,
      retainedLayers: retainedLayers(this.#document).length,
      diskProblem: this.#diskProblem()?.message ?? null,
      suspended: current.resume !== null,
    };
  }

  /**
   * The files the VM must open now, one per base disk. A disk added after the snapshots
   * were taken is its base file; with a broken tree.json, the overlays it still names.
   */
  currentDiskFiles(): string[] {
    let recorded: { baseDisks: string[]; overlays: (string | null)[] };
    if (this.#problem) {
      if (!this.#salvaged) throw this.#problem;
      recorded = this.#salvaged;
    } else {
      recorded = { baseDisks: this.#document.baseDisks, overlays: this.#document.current.overlays };
    }
    return this.#baseDisks.map((base, disk) => {
      const at = recorded.baseDisks.indexOf(this.#baseKeys[disk] ?? '');
      const overlay = at >= 0 ? recorded.overlays[at] : null;
      return overlay ? this.#layout.layerPath(overlay) : base;
    });
  }

  /**
   * The suspended machine the next power-on continues from (on currentDiskFiles()), or null:
   * boot afresh. Call it before currentDiskFiles() at power-on and do not boot when it throws:
   *
   * - A changed disk list with a resume point throws `disk-configuration-changed`: the saved
   *   machine expects the disks it had (restore the list, or clearResume).
   * - A broken tree.json throws its problem unless the current overlays can be salvaged and
   *   the file clearly says "not suspended" (then null). A salvaged resume point is never
   *   returned: using one means committing its removal (clearResume) before the VM writes
   *   its disks, which a broken tree does not allow; resumed twice, the second run would
   *   continue a machine whose disks have moved on.
   *
   * After resuming from these files, call clearResume() before the VM writes its disks.
   */
  resumeFiles(): ResumeFiles | null {
    if (this.#problem) {
      if (this.#salvaged && this.#salvagedResume === null) return null;
      throw this.#problem;
    }
    const resume = this.#document.current.resume;
    if (!resume) return null;
    const diskProblem = this.#diskProblem();
    if (diskProblem) {
      throw new SnapshotStoreError(
        'disk-configuration-changed',
        `The VM was suspended with the disks ${this.#document.baseDisks.join(', ') || 'none'}, ` +
          `but vm.json now lists ${this.#baseKeys.join(', ') || 'none'}. Restore the disk list ` +
          'to continue the suspended machine, or discard its saved state to boot afresh.',
      );
    }
    const { stateFile, ramFile } = this.#layout.suspendFiles(resume.folder);
    return { stateFile, ramFile };
  }

  /** A snapshot by id, or by name when the name is unique. */
  findByName(nameOrId: string): SnapshotNode {
    return findSnapshot(this.tree(), nameOrId);
  }

  /** Where a snapshot's own files are (state, RAM, thumbnail). */
  snapshotFiles(id: string): SnapshotFiles {
    this.#require(id);
    return this.#layout.snapshotFiles(id);
  }

  /** Per base disk, the absolute path of the snapshot's frozen layer (for a linked clone). */
  layerChain(id: string): string[] {
    const snapshot = this.#require(id);
    const problem = this.#diskProblem();
    if (problem) throw problem;
    return snapshot.diskLayers.map((layer, disk) => this.#filePath(layer, disk));
  }

  /**
   * Makes the snapshot's folder (for the caller's state, RAM and thumbnail files) and new
   * overlays on the current tops. Nothing is committed: commitTake or abandonTake follows.
   * For a running VM: pause it first, and switch its disks to `diskFiles` after the commit.
   */
  async prepareTake(request: TakeRequest): Promise<PreparedTake> {
    const name = checked('invalid-name', (issues) =>
      readSnapshotName(issues, request.name, 'name'),
    );
    const description = checked('invalid-description', (issues) =>
      readSnapshotDescription(issues, request.description ?? '', 'description'),
    );
    if (!snapshotKinds.includes(request.kind)) {
      throw new SnapshotStoreError(
        'invalid-request',
        `kind: must be "memory" or "disk", not ${JSON.stringify(request.kind)}`,
      );
    }
    return this.#mutate({ disks: true }, async () => {
      await this.#ensureTreeFile();
      await this.#mkdir(this.#layout.layersDir, true);
      const id = this.#randomId();
      if (!isSnapshotId(id) || this.#document.snapshots.some((s) => s.id === id)) {
        throw new Error(`Internal error: ${JSON.stringify(id)} cannot be a new snapshot id`);
      }
      const files = this.#layout.snapshotFiles(id);
      const pending = this.#pending();
      const tops = [...this.#document.current.overlays];
      const overlays: string[] = [];
      let madeDirectory = false;
      pending.add(id);
      try {
        // Non-recursive: an existing folder is never adopted (nor removed below).
        await this.#mkdir(files.directory, false);
        madeDirectory = true;
        for (const [disk, top] of tops.entries()) {
          const overlay = await this.#newOverlayName();
          pending.add(overlay);
          overlays.push(overlay);
          await this.#createOverlay(overlay, this.#filePath(top, disk));
        }
      } catch (error) {
        // Nothing was committed: what was made goes (or, if that fails too, the next open).
        if (madeDirectory) await this.#removeQuietly(files.directory);
        for (const overlay of overlays) await this.#removeQuietly(this.#layout.layerPath(overlay));
        this.#unpend([id, ...overlays]);
        throw error;
      }
      const prepared: PreparedTake = Object.freeze({
        id,
        name,
        description,
        kind: request.kind,
        createdAt: this.#now().toISOString(),
        ...files,
        diskFiles: Object.freeze(overlays.map((overlay) => this.#layout.layerPath(overlay))),
      });
      this.#prepared.set(prepared, { parentId: this.#document.current.parentId, tops, overlays });
      return prepared;
    });
  }

  /**
   * Commits a prepared take: the old current tops become the snapshot's layers (never
   * written again), the prepared overlays the current state. A memory snapshot needs its
   * state and RAM files; `thumbnail: true` needs thumbnail.png.
   */
  async commitTake(prepared: PreparedTake, options: { thumbnail: boolean }): Promise<SnapshotNode> {
    const state = this.#preparedState(prepared);
    return this.#mutate({ disks: true }, async () => {
      const { current } = this.#document;
      if (current.parentId !== state.parentId || !sameList(current.overlays, state.tops)) {
        throw new SnapshotStoreError(
          'take-stale',
          'The snapshots changed since this snapshot was prepared (a revert or a delete); ' +
            'abandon it and take it again.',
        );
      }
      const missing: string[] = [];
      if (prepared.kind === 'memory') {
        if (!(await isFile(prepared.stateFile))) missing.push(prepared.stateFile);
        if (!(await isFile(prepared.ramFile))) missing.push(prepared.ramFile);
      }
      if (options.thumbnail && !(await isFile(prepared.thumbnailFile))) {
        missing.push(prepared.thumbnailFile);
      }
      if (missing.length > 0) {
        throw new SnapshotStoreError(
          'snapshot-files-missing',
          `The snapshot cannot be committed without ${missing.join(', ')}.`,
        );
      }
      let written: string[];
      try {
        written = await readdir(prepared.directory);
      } catch (error) {
        throw new SnapshotStoreError(
          'snapshot-files-missing',
          `The snapshot's folder ${prepared.directory} cannot be read: ${messageOf(error)}`,
          [],
          { cause: error },
        );
      }
      // What the tree will reference must be on disk before the tree says so.
      await this.#syncAll([
        ...written.map((name) => path.join(prepared.directory, name)),
        prepared.directory,
        ...prepared.diskFiles,
        this.#layout.layersDir,
        this.#layout.snapshotsDir,
      ]);
      const next = planTake(this.#document, {
        id: prepared.id,
        name: prepared.name,
        description: prepared.description,
        kind: prepared.kind,
        createdAt: prepared.createdAt,
        thumbnail: options.thumbnail,
        overlays: state.overlays,
      });
      await this.#commit(next);
      this.#prepared.delete(prepared);
      this.#unpend([prepared.id, ...state.overlays]);
      return this.#node(prepared.id);
    });
  }

  /** Removes what prepareTake made. Harmless after a commit (then it only forgets). */
  async abandonTake(prepared: PreparedTake): Promise<void> {
    const state = this.#prepared.get(prepared);
    if (!state) return;
    await this.#process.locks.run(this.vmFolder, async () => {
      this.#prepared.delete(prepared);
      this.#unpend([prepared.id, ...state.overlays]);
      await this.#load({ collect: false });
      // A commit that reported a failure may still have landed; then the files are the tree's.
      if (this.#problem || this.#document.snapshots.some((s) => s.id === prepared.id)) return;
      await this.#removeQuietly(prepared.directory);
      for (const file of prepared.diskFiles) await this.#removeQuietly(file);
    });
  }

  /**
   * Starts the current state afresh from a snapshot: new overlays on its layers, commit, and
   * the old overlays are deleted. The VM must not be using the old overlays any more.
   */
  async revert(id: string): Promise<RevertResult> {
    return this.#mutate({ disks: true }, async () => {
      const snapshot = this.#require(id);
      await this.#mkdir(this.#layout.layersDir, true);
      const overlays: string[] = [];
      const pending = this.#pending();
      try {
        for (const [disk, layer] of snapshot.diskLayers.entries()) {
          const overlay = await this.#newOverlayName();
          pending.add(overlay);
          overlays.push(overlay);
          await this.#createOverlay(overlay, this.#filePath(layer, disk));
        }
        await this.#syncAll([
          ...overlays.map((overlay) => this.#layout.layerPath(overlay)),
          this.#layout.layersDir,
        ]);
      } catch (error) {
        for (const overlay of overlays) await this.#removeQuietly(this.#layout.layerPath(overlay));
        this.#unpend(overlays);
        throw error;
      }
      const plan = planRevert(this.#document, id, overlays);
      const previousResume = this.#document.current.resume;
      try {
        await this.#commit(plan.document);
      } finally {
        // On failure the new overlays stay for the next open's collection: the commit may
        // have landed after all.
        this.#unpend(overlays);
      }
      await this.#discard(plan.droppedLayers, []);
      // The resume point went with the old overlays in the same commit.
      if (previousResume) await this.#removeQuietly(this.#suspendDirectory(previousResume));
      const files = this.#layout.snapshotFiles(id);
      return {
        diskFiles: this.currentDiskFiles(),
        memory:
          snapshot.kind === 'memory'
            ? { stateFile: files.stateFile, ramFile: files.ramFile }
            : null,
      };
    });
  }

  /**
   * Makes a new folder for a resume point (snapshots/suspend-<uuid>/) for the caller's
   * state.nbsnap and ram.bin. Nothing is committed: commitSuspend or abandonSuspend follows.
   * Pause the VM first: the files must match the current overlays as they are now.
   */
  async prepareSuspend(): Promise<PreparedSuspend> {
    return this.#mutate({ disks: true }, async () => {
      const { folder, files } = await this.#makeSuspendFolder();
      const prepared: PreparedSuspend = Object.freeze({ ...files });
      this.#preparedSuspends.set(prepared, {
        folder,
        parentId: this.#document.current.parentId,
        overlays: [...this.#document.current.overlays],
      });
      return prepared;
    });
  }

  /**
   * Commits a prepared resume point; an earlier one is replaced and its folder removed after
   * the commit. Both files must have been written.
   */
  async commitSuspend(prepared: PreparedSuspend): Promise<void> {
    const state = this.#preparedSuspendState(prepared);
    await this.#mutate({ disks: true }, async () => {
      const { current } = this.#document;
      if (current.parentId !== state.parentId || !sameList(current.overlays, state.overlays)) {
        throw new SnapshotStoreError(
          'suspend-stale',
          'The snapshots changed since this suspend was prepared (a revert, a take or a ' +
            'delete); the saved machine no longer matches the disks. Abandon it.',
        );
      }
      await this.#checkSuspendFiles(prepared);
      await this.#commitResume(state.folder);
      this.#preparedSuspends.delete(prepared);
      this.#unpend([state.folder]);
    });
  }

  /** Removes what prepareSuspend made. Harmless after a commit (then it only forgets). */
  async abandonSuspend(prepared: PreparedSuspend): Promise<void> {
    const state = this.#preparedSuspends.get(prepared);
    if (!state) return;
    await this.#process.locks.run(this.vmFolder, async () => {
      this.#preparedSuspends.delete(prepared);
      this.#unpend([state.folder]);
      await this.#load({ collect: false });
      // A commit that reported a failure may still have landed; then the folder is the tree's.
      if (this.#problem || this.#document.current.resume?.folder === state.folder) return;
      await this.#removeQuietly(prepared.directory);
    });
  }

  /**
   * Makes a memory snapshot's machine the resume point, for "revert while powered off": call
   * it right after revert(id), before the VM runs. Its state.nbsnap and ram.bin are
   * hard-linked into a new suspend folder (no copy, and deleting the snapshot later leaves
   * them), then committed like commitSuspend.
   */
  async suspendFromSnapshot(id: string): Promise<void> {
    await this.#mutate({ disks: true }, async () => {
      const snapshot = this.#require(id);
      if (snapshot.kind !== 'memory') {
        throw new SnapshotStoreError(
          'snapshot-has-no-memory',
          `Snapshot "${snapshot.name}" was taken powered off: it has no machine state to continue.`,
        );
      }
      if (this.#document.current.parentId !== id) {
        throw new SnapshotStoreError(
          'snapshot-not-current',
          `The VM is not at snapshot "${snapshot.name}": revert to it first, so that its ` +
            'machine continues on its own disks.',
        );
      }
      const source = this.#layout.snapshotFiles(id);
      const { folder, files } = await this.#makeSuspendFolder();
      try {
        await this.#link(source.stateFile, files.stateFile);
        await this.#link(source.ramFile, files.ramFile);
        await this.#checkSuspendFiles(files);
      } catch (error) {
        await this.#removeQuietly(files.directory);
        this.#unpend([folder]);
        throw error;
      }
      try {
        await this.#commitResume(folder);
      } finally {
        // On failure the folder stays for the next open's collection: the commit may have
        // landed after all.
        this.#unpend([folder]);
      }
    });
  }

  /**
   * Drops the resume point: the next power-on boots afresh. Commits first, then removes the
   * folder. Works with a changed disk list (that is how a user gives the saved machine up).
   */
  async clearResume(): Promise<void> {
    await this.#mutate({ disks: false }, async () => {
      const previous = this.#document.current.resume;
      if (!previous) return;
      const next = cloneSnapshotTree(this.#document);
      next.current.resume = null;
      await this.#commit(next);
      await this.#removeQuietly(this.#suspendDirectory(previous));
    });
  }

  /**
   * Deletes a snapshot: its children move up to its parent, its layer is merged into each
   * layer that depends on it (or kept hidden while `vmRunning` and the VM has that layer
   * open), and its files go. A base disk is never merged or deleted.
   *
   * The merges' data is copied first, before anything is committed (copy-only merges: each
   * dependent takes the layer's ranges but stays backed by it, reading the same); then the
   * node goes (➊) and the merges, now only rebases, are done and committed one by one. So
   * `signal` cancels the long part: aborted before ➊, the delete throws the signal's reason
   * and the tree is as it was (the snapshot is still there; the dependents hold copies of
   * its data, which a retry does not copy again). From ➊ on it runs to the end. Merges that
   * could not be copied ahead (into a layer that only becomes a dependent once an older
   * retained layer above it is merged) copy after ➊, with progress, not cancellable.
   */
  async delete(id: string, options: DeleteOptions): Promise<CollectResult> {
    return this.#mutate({ disks: true }, async () => {
      const snapshot = this.#require(id);
      if (snapshot.protectedBy.length > 0) {
        throw new SnapshotStoreError(
          'snapshot-protected',
          `Snapshot "${snapshot.name}" cannot be deleted: the linked clone${snapshot.protectedBy.length === 1 ? '' : 's'} ` +
            `${snapshot.protectedBy.join(', ')} ${snapshot.protectedBy.length === 1 ? 'uses' : 'use'} it. ` +
            'Delete the clones or make them full clones first.',
        );
      }
      options.signal?.throwIfAborted();
      const plan = planDeleteNode(this.#document, id);
      const merges = await this.#mergeProgress(plan.document, options);
      await this.#copyAhead(merges, options.signal);
      // The last point where a cancel leaves the tree as it was.
      options.signal?.throwIfAborted();
      await this.#commit(plan.document);
      const freed = await this.#discard(plan.droppedLayers, [id]);
      const collected = await this.#collect(options.vmRunning, merges);
      if (collected.collectProblem === undefined) merges.finish();
      return { ...collected, freedBytes: freed + collected.freedBytes };
    });
  }

  /**
   * Merges away hidden layers of deleted snapshots that no other process has open; call it
   * when the VM powers off (`vmRunning: false`) to reclaim their space.
   */
  async collectRetained(options: { vmRunning: boolean }): Promise<CollectResult> {
    return this.#mutate({ disks: true }, () => this.#collect(options.vmRunning));
  }

  async rename(id: string, name: string): Promise<SnapshotNode> {
    const checkedName = checked('invalid-name', (issues) => readSnapshotName(issues, name, 'name'));
    return this.#editNode(id, (snapshot) => {
      snapshot.name = checkedName;
    });
  }

  async describe(id: string, description: string): Promise<SnapshotNode> {
    const text = checked('invalid-description', (issues) =>
      readSnapshotDescription(issues, description, 'description'),
    );
    return this.#editNode(id, (snapshot) => {
      snapshot.description = text;
    });
  }

  /** Records that a linked clone is built on the snapshot's layers (idempotent). */
  async protect(id: string, cloneVmId: string): Promise<SnapshotNode> {
    const vmId = checked('invalid-request', (issues) => readVmId(issues, cloneVmId, 'cloneVmId'));
    return this.#editNode(id, (snapshot) => {
      if (!snapshot.protectedBy.includes(vmId)) snapshot.protectedBy.push(vmId);
    });
  }

  async unprotect(id: string, cloneVmId: string): Promise<SnapshotNode> {
    const vmId = checked('invalid-request', (issues) => readVmId(issues, cloneVmId, 'cloneVmId'));
    return this.#editNode(id, (snapshot) => {
      snapshot.protectedBy = snapshot.protectedBy.filter((other) => other !== vmId);
    });
  }

  // ---- internals ----

  /** Under the folder lock, on a fresh read of tree.json (another store may have changed it). */
  async #mutate<T>(options: { disks: boolean }, task: () => Promise<T>): Promise<T> {
    return this.#process.locks.run(this.vmFolder, async () => {
      await this.#load({ collect: false });
      if (this.#problem) throw this.#problem;
      const diskProblem = options.disks ? this.#diskProblem() : null;
      if (diskProblem) throw diskProblem;
      return task();
    });
  }

  async #editNode(id: string, edit: (snapshot: SnapshotRecord) => void): Promise<SnapshotNode> {
    return this.#mutate({ disks: false }, async () => {
      this.#require(id);
      const next = structuredClone(this.#document);
      const snapshot = next.snapshots.find((s) => s.id === id);
      if (snapshot) edit(snapshot);
      if (serializeSnapshotTree(next) !== serializeSnapshotTree(this.#document)) {
        await this.#commit(next);
      }
      return this.#node(id);
    });
  }

  async #load(options: { collect: boolean }): Promise<void> {
    const read = await readTreeFile(this.#layout.treeFile);
    this.#salvaged = null;
    this.#salvagedResume = undefined;
    if (read.status === 'ok') {
      this.#document = read.document;
      this.#treeExists = true;
      this.#problem = null;
    } else if (read.status === 'missing') {
      this.#treeExists = false;
      this.#document = emptySnapshotTree(this.#baseKeys);
      this.#problem = await this.#checkWithoutTree(options.collect);
    } else {
      this.#problem = read.error;
      const salvaged = salvageCurrentOverlays(read.raw);
      const usable = salvaged
        ? (
            await Promise.all(
              salvaged.overlays.map((o) => (o ? isFile(this.#layout.layerPath(o)) : true)),
            )
          ).every(Boolean)
        : false;
      this.#salvaged = usable ? (salvaged ?? null) : null;
      this.#salvagedResume = salvageResumePoint(read.raw);
    }
    if (options.collect && !this.#problem && this.#treeExists) await this.#collectGarbage();
  }

  /**
   * Without tree.json, snapshots/ may hold only the temp file of the very first commit
   * (prepareTake and prepareSuspend write tree.json before anything else). Anything more means the tree was
   * lost: that is reported and nothing is touched.
   */
  async #checkWithoutTree(removeTemps: boolean): Promise<SnapshotStoreError | null> {
    let names: string[];
    try {
      names = await readdir(this.#layout.snapshotsDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      return new SnapshotStoreError(
        'snapshot-tree-unreadable',
        `${this.#layout.snapshotsDir} cannot be read: ${messageOf(error)}`,
      );
    }
    const others = names.filter((name) => !treeTempFile.test(name));
    if (others.length > 0) {
      return new SnapshotStoreError(
        'snapshot-tree-missing',
        `${this.#layout.treeFile} is missing, but ${this.#layout.snapshotsDir} holds ${others.length} ` +
          `other entr${others.length === 1 ? 'y' : 'ies'} (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}). ` +
          'Nothing was changed. Restore tree.json from a backup; or, to give up every snapshot and ' +
          "the VM's state since the first one, move the snapshots folder away.",
      );
    }
    if (removeTemps) {
      for (const name of names)
        await this.#removeQuietly(path.join(this.#layout.snapshotsDir, name));
    }
    return null;
  }

  /** Drops retained layers nothing depends on, then removes every unreferenced file. */
  async #collectGarbage(): Promise<void> {
    const pruned = pruneLayers(this.#document);
    if (pruned.droppedLayers.length > 0) {
      try {
        await this.#commit(pruned.document);
      } catch {
        return; // Next time; unreferenced files wait too.
      }
    }
    try {
      await removeUnreferenced(
        this.#layout.snapshotsDir,
        referencedEntries(this.#document),
        this.#pending(),
        (file) => this.#fs.remove(file),
      );
    } catch {
      // Permissions or I/O: the leftovers are harmless and the next open tries again.
    }
  }

  /**
   * The merges a delete is about to do (`tree` is the tree after ➊) with their sizes, and
   * the progress over all of them: bytes of the dependents' virtual disks dealt with, of
   * their sum; never decreasing.
   */
  async #mergeProgress(tree: SnapshotTreeDocument, options: DeleteOptions): Promise<MergePlan> {
    const steps = plannedMerges(tree, pinnedLayers(tree, { vmRunning: options.vmRunning }));
    const entries: MergePlanEntry[] = [];
    for (const step of steps) {
      const layer = step.layer.file;
      const dependent = step.dependent.file;
      if (entries.some((e) => e.layer === layer && e.dependent === dependent)) continue;
      let size = 0;
      try {
        size = await this.#ops.virtualSize(this.#layout.layerPath(dependent));
      } catch {
        // Unreadable: the merge will say why; it just does not count.
      }
      // Copied ahead only where the dependent is backed by the layer now, before any merge.
      const copyAhead = tree.layers.some((l) => l.file === dependent && l.backing === layer);
      entries.push({ layer, dependent, size, copyAhead, copied: false, done: 0 });
    }
    const total = entries.reduce((sum, entry) => sum + entry.size, 0);
    let reported = -1;
    const emit = () => {
      const done = Math.min(
        total,
        entries.reduce((sum, entry) => sum + entry.done, 0),
      );
      if (done <= reported) return;
      reported = done;
      options.onProgress?.(done, total);
    };
    emit();
    return {
      entries,
      report: (entry, done) => {
        entry.done = Math.max(entry.done, Math.min(done, entry.size));
        emit();
      },
      find: (layer, dependent) =>
        entries.find((e) => e.layer === layer && e.dependent === dependent),
      finish: () => {
        for (const entry of entries) entry.done = entry.size;
        emit();
      },
    };
  }

  /**
   * Copy-only merges of every planned merge whose dependent is backed by the layer now.
   * Nothing is committed: the dependents read the same and stay on the layer. A cancel
   * throws the signal's reason; another failure stops the copying (the merge after ➊ meets
   * it again and reports it as collectProblem, as before).
   */
  async #copyAhead(merges: MergePlan, signal: AbortSignal | undefined): Promise<void> {
    for (const entry of merges.entries) {
      if (!entry.copyAhead) continue;
      signal?.throwIfAborted();
      try {
        await this.#ops.mergeLayer(
          this.#layout.layerPath(entry.layer),
          this.#layout.layerPath(entry.dependent),
          {
            copyOnly: true,
            onProgress: (done) => merges.report(entry, done),
            ...(signal ? { signal } : {}),
          },
        );
      } catch (error) {
        signal?.throwIfAborted();
        if (isMergeAborted(error)) throw error;
        return;
      }
      entry.copied = true;
      merges.report(entry, entry.size);
    }
  }

  async #collect(vmRunning: boolean, merges?: MergePlan): Promise<CollectResult> {
    const pinned = pinnedLayers(this.#document, { vmRunning });
    let freedBytes = 0;
    let collectProblem: string | undefined;
    for (
      let step = nextMerge(this.#document, pinned);
      step;
      step = nextMerge(this.#document, pinned)
    ) {
      const layer = this.#layout.layerPath(step.layer.file);
      const dependent = this.#layout.layerPath(step.dependent.file);
      const entry = merges?.find(step.layer.file, step.dependent.file);
      try {
        // Not cancellable: the node is gone already. What was copied ahead is only rebased.
        await this.#ops.mergeLayer(
          layer,
          dependent,
          merges && entry && !entry.copied
            ? { onProgress: (done) => merges.report(entry, done) }
            : undefined,
        );
        if (merges && entry) merges.report(entry, entry.size);
      } catch (error) {
        collectProblem = `Could not merge ${layer} into ${dependent}: ${messageOf(error)}`;
        break;
      }
      // One merge per commit: a crash leaves at most one merge unrecorded, which the
      // native merge then finds already done.
      const plan = planMerge(this.#document, step);
      try {
        await this.#commit(plan.document);
      } catch (error) {
        collectProblem = messageOf(error);
        break;
      }
      freedBytes += await this.#discard(plan.droppedLayers, []);
    }
    return {
      freedBytes,
      retainedLayers: retainedLayers(this.#document).length,
      ...(collectProblem === undefined ? {} : { collectProblem }),
    };
  }

  async #ensureTreeFile(): Promise<void> {
    if (this.#treeExists) return;
    await this.#mkdir(this.#layout.snapshotsDir, true);
    await this.#commit(this.#document);
  }

  /** Validates (a planning bug must never reach the disk) and writes tree.json atomically. */
  async #commit(next: SnapshotTreeDocument): Promise<void> {
    const text = serializeSnapshotTree(next);
    const validated = validateSnapshotTree(JSON.parse(text));
    if (!validated.ok) {
      throw new Error(
        `Internal error: refusing to write an invalid snapshot tree:\n${formatIssues(validated.issues)}`,
      );
    }
    try {
      await this.#fs.writeFileAtomic(this.#layout.treeFile, text);
    } catch (error) {
      // The rename may have happened before the failure: believe the disk.
      await this.#load({ collect: false }).catch(() => undefined);
      throw new SnapshotStoreError(
        'snapshot-write-failed',
        `Could not write ${this.#layout.treeFile}: ${messageOf(error)}`,
        [],
        { cause: error },
      );
    }
    this.#document = validated.value;
    this.#treeExists = true;
  }

  async #mkdir(dir: string, recursive: boolean): Promise<void> {
    try {
      await this.#fs.mkdir(dir, { recursive });
    } catch (error) {
      throw new SnapshotStoreError(
        'snapshot-write-failed',
        `Could not create the folder ${dir}: ${messageOf(error)}`,
        [],
        { cause: error },
      );
    }
  }

  async #syncAll(files: string[]): Promise<void> {
    for (const file of files) {
      try {
        await this.#fs.sync(file);
      } catch (error) {
        throw new SnapshotStoreError(
          'snapshot-write-failed',
          `Could not flush ${file} to disk: ${messageOf(error)}`,
          [],
          { cause: error },
        );
      }
    }
  }

  /**
   * A new, empty suspend folder, pending (spared by other stores' collection) until the
   * caller commits or removes it. Writes tree.json first if there is none, so the folder is
   * never there without it.
   */
  async #makeSuspendFolder(): Promise<{ folder: string; files: SuspendFiles }> {
    await this.#ensureTreeFile();
    const folder = `${SUSPEND_FOLDER_PREFIX}${this.#randomId()}`;
    const files = this.#layout.suspendFiles(folder);
    if (
      !isSuspendFolder(folder) ||
      this.#document.current.resume?.folder === folder ||
      this.#pending().has(folder) ||
      (await exists(files.directory))
    ) {
      throw new Error(`Internal error: ${JSON.stringify(folder)} cannot be a new suspend folder`);
    }
    const pending = this.#pending();
    pending.add(folder);
    try {
      // Non-recursive: an existing folder is never adopted.
      await this.#mkdir(files.directory, false);
    } catch (error) {
      pending.delete(folder);
      throw error;
    }
    return { folder, files };
  }

  /** Both files written (else snapshot-files-missing) and on disk before a commit names them. */
  async #checkSuspendFiles(files: SuspendFiles): Promise<void> {
    const missing: string[] = [];
    if (!(await isFile(files.stateFile))) missing.push(files.stateFile);
    if (!(await isFile(files.ramFile))) missing.push(files.ramFile);
    if (missing.length > 0) {
      throw new SnapshotStoreError(
        'snapshot-files-missing',
        `The suspended state cannot be committed without ${missing.join(', ')}.`,
      );
    }
    await this.#syncAll([
      files.stateFile,
      files.ramFile,
      files.directory,
      this.#layout.snapshotsDir,
    ]);
  }

  /** Commits `folder` as the resume point, then removes the one it replaces. */
  async #commitResume(folder: string): Promise<void> {
    const previous = this.#document.current.resume;
    const next = cloneSnapshotTree(this.#document);
    next.current.resume = { folder };
    await this.#commit(next);
    if (previous && previous.folder !== folder) {
      await this.#removeQuietly(this.#suspendDirectory(previous));
    }
  }

  async #link(existing: string, newPath: string): Promise<void> {
    try {
      await this.#fs.link(existing, newPath);
    } catch (error) {
      const code: SnapshotErrorCode =
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'snapshot-files-missing'
          : 'snapshot-write-failed';
      throw new SnapshotStoreError(
        code,
        `Could not link ${existing} as ${newPath}: ${messageOf(error)}` +
          (code === 'snapshot-write-failed' ? ' (the file system must support hard links)' : ''),
        [],
        { cause: error },
      );
    }
  }

  #suspendDirectory(resume: ResumePoint): string {
    return this.#layout.suspendFiles(resume.folder).directory;
  }

  /** A layer name in use nowhere, so removing it after a failed create removes only ours. */
  async #newOverlayName(): Promise<string> {
    const overlay = newLayerName(this.#randomBytes);
    const known = this.#document.layers.some((layer) => layer.file === overlay);
    if (known || this.#pending().has(overlay) || (await exists(this.#layout.layerPath(overlay)))) {
      throw new Error(`Internal error: the new layer name ${overlay} is taken`);
    }
    return overlay;
  }

  async #createOverlay(overlay: string, backing: string): Promise<void> {
    const file = this.#layout.layerPath(overlay);
    try {
      await this.#ops.createOverlay(file, backing);
    } catch (error) {
      throw new SnapshotStoreError(
        'disk-operation-failed',
        `Could not create the disk layer ${file} on ${backing}: ${messageOf(error)}`,
        [],
        { cause: error },
      );
    }
  }

  /**
   * Deletes files the committed tree no longer references, returning the bytes freed.
   * Failures are left to the next open's collection: the tree is already right.
   */
  async #discard(layers: readonly string[], snapshotIds: readonly string[]): Promise<number> {
    let freed = 0;
    for (const layer of layers) {
      const file = this.#layout.layerPath(layer);
      const bytes = await this.#bytesOf(file);
      if (await this.#removeQuietly(file)) freed += bytes;
    }
    for (const id of snapshotIds) {
      const { directory } = this.#layout.snapshotFiles(id);
      let bytes = 0;
      try {
        for (const name of await readdir(directory))
          bytes += await this.#bytesOf(path.join(directory, name));
      } catch {
        // Already gone, or unreadable: nothing counted.
      }
      if (await this.#removeQuietly(directory)) freed += bytes;
    }
    return freed;
  }

  async #bytesOf(file: string): Promise<number> {
    try {
      return await this.#ops.fileBytes(file);
    } catch {
      return 0;
    }
  }

  async #removeQuietly(file: string): Promise<boolean> {
    try {
      await this.#fs.remove(file);
      return true;
    } catch {
      return false;
    }
  }

  #pending(): Set<string> {
    return this.#process.pendingFor(this.vmFolder);
  }

  #unpend(entries: readonly string[]): void {
    const pending = this.#pending();
    for (const entry of entries) pending.delete(entry);
  }

  #preparedSuspendState(prepared: PreparedSuspend): PreparedSuspendState {
    const state = this.#preparedSuspends.get(prepared);
    if (!state) {
      throw new SnapshotStoreError(
        'invalid-request',
        'This suspend was not prepared by this snapshot store, or was already committed or abandoned.',
      );
    }
    return state;
  }

  #preparedState(prepared: PreparedTake): PreparedState {
    const state = this.#prepared.get(prepared);
    if (!state) {
      throw new SnapshotStoreError(
        'invalid-request',
        'This take was not prepared by this snapshot store, or was already committed or abandoned.',
      );
    }
    return state;
  }

  /** A layer from the tree (or null: the base disk) as an absolute path. */
  #filePath(layer: string | null, disk: number): string {
    if (layer !== null) return this.#layout.layerPath(layer);
    const base = this.#baseDisks[disk];
    if (base === undefined) throw new Error(`Internal error: no base disk ${disk}`);
    return base;
  }

  #require(id: string): SnapshotRecord {
    if (this.#problem) throw this.#problem;
    const snapshot = this.#document.snapshots.find((s) => s.id === id);
    if (!snapshot) {
      throw new SnapshotStoreError('snapshot-not-found', `There is no snapshot with the id ${id}.`);
    }
    return snapshot;
  }

  #node(id: string): SnapshotNode {
    const node = this.tree().nodes.find((n) => n.id === id);
    if (!node)
      throw new SnapshotStoreError('snapshot-not-found', `There is no snapshot with the id ${id}.`);
    return node;
  }

  #diskProblem(): SnapshotStoreError | null {
    const recorded = this.#document.baseDisks;
    if (sameList(recorded, this.#baseKeys)) return null;
    return new SnapshotStoreError(
      'disk-configuration-changed',
      `The VM's disks (${this.#baseKeys.join(', ') || 'none'}) are not the ones its snapshots were ` +
        `taken with (${recorded.join(', ') || 'none'}): a disk was added, removed or replaced ` +
        'after the first snapshot. Snapshots cannot be taken, reverted or deleted until ' +
        "vm.json's disk list is restored; the VM itself still runs on its current state.",
    );
  }
}

function toNode(snapshot: SnapshotRecord, children: readonly SnapshotRecord[]): SnapshotNode {
  return {
    id: snapshot.id,
    parentId: snapshot.parentId,
    name: snapshot.name,
    description: snapshot.description,
    createdAt: snapshot.createdAt,
    kind: snapshot.kind,
    thumbnail: snapshot.thumbnail,
    protectedBy: [...snapshot.protectedBy],
    children: children.map((child) => child.id),
  };
}
