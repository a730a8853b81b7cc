/**
 * The VM library: every VM is a folder holding a vm.json (docs/vm-library.md). Folders in the
 * library root are VMs by being there; folders elsewhere join through import (library.json).
 *
 * Guarantees:
 * - Listing never fails because of one VM: a broken folder becomes a 'broken' entry with the
 *   reason, and is never rewritten.
 * - Every vm.json write is atomic (temp file, fsync, rename, fsync of the folder).
 * - Operations on one VM run one after another (a mutex per VM folder), so read-modify-write
 *   changes never lose each other; different VMs are handled in parallel.
 * - Deleting moves to a trash unless the caller asks, on the user's behalf, to erase.
 *
 * Plain Node: the native core and the VM hosts come in as functions (`createDiskImage`,
 * `isRunning`), so tests and the CLI run without them.
 */
import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, readdir, realpath, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteFile } from '../atomic-write-file.ts';
import { folderNameFor, numberedFolderName } from './folder-name.ts';
import { readImportRegistry, writeImportRegistry } from './import-registry.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { LibraryError } from './library-error.ts';
import { moveToTrash, type TrashOutcome } from './trash.ts';
import {
  IssueList,
  formatIssues,
  joinPath,
  readInteger,
  readObject,
  type ValidationIssue,
} from './validation.ts';
import {
  VM_SCHEMA_VERSION,
  defaultDisplay,
  generateMacAddress,
  serializeVmConfig,
  validateVmConfig,
  type GuestOs,
  type VmBoot,
  type VmConfig,
  type VmDisk,
  type VmDisplay,
  type VmNetworkMode,
} from './vm-config.ts';
import { readVmFolder, removeStaleConfigTemps, vmConfigPath, type VmProblem } from './vm-folder.ts';
import {
  applyVmPatch,
  changesNeedingPowerOff,
  isUnchanged,
  type VmPatch,
  type VmPortForwardInput,
} from './vm-patch.ts';

/** A VM whose vm.json is valid. */
export interface LibraryVm {
  id: string;
  /** Absolute path of the VM's folder. */
  folder: string;
  /** True for a folder outside the library root, listed in library.json. */
  imported: boolean;
  config: VmConfig;
}

export interface BrokenVmEntry {
  status: 'broken';
  folder: string;
  imported: boolean;
  problem: VmProblem;
}

export type LibraryEntry = ({ status: 'ok' } & LibraryVm) | BrokenVmEntry;

export interface LibraryListing {
  root: string;
  /** Sorted by VM name (broken ones by folder name). */
  entries: LibraryEntry[];
  /** library.json is broken: imported VMs are not listed, and imports are refused. */
  registryProblem?: string;
}

/** Makes an empty disk image; the addon's `imageCreate` fits. */
export type CreateDiskImage = (
  file: string,
  options: { format: 'qcow2'; size: number },
) => Promise<void>;

export interface CreateVmSpec {
  name: string;
  notes?: string;
  /** Default 'linux'. */
  guestOs?: GuestOs;
  hardware?: {
    /** Default 1. */
    cpus?: number;
    /** Default 1024. */
    memoryMiB?: number;
    /** Existing images; paths relative to the new VM's folder, or absolute. */
    disks?: VmDisk[];
    network?: {
      /** Default 'nat'. */
      mode?: VmNetworkMode;
      portForwards?: VmPortForwardInput[];
    };
    /** Default 1024×768 with 16 MiB; null for a headless VM. */
    display?: VmDisplay | null;
  };
  boot: VmBoot;
  /** A new, empty qcow2 disk made in the VM's folder as disk.qcow2, before any `disks`. */
  newDisk?: { sizeBytes: number };
}

export type VmTarget = { id: string } | { folder: string };

export interface DeleteOptions {
  /**
   * Erase the folder instead of moving it to a trash. Only on the user's explicit choice
   * (a confirmation that says the files are gone for good).
   */
  permanently?: boolean;
}

export interface DeleteOutcome {
  folder: string;
  /** 'unregistered': an imported folder that no longer existed was only taken off the list. */
  method: TrashOutcome['method'] | 'permanent' | 'unregistered';
  /** Where the folder went, for the library's own trash. */
  location?: string;
}

export type VmChange = VmPatch | ((current: VmConfig) => VmPatch | Promise<VmPatch>);

export interface VmLibraryOptions {
  /** The library root (see library-paths.ts); created on the first create or import. */
  root: string;
  /** Whether the VM runs now (the VM host registry knows). Default: nothing runs. */
  isRunning?: (id: string) => boolean | Promise<boolean>;
  /** Needed only for `create` with `newDisk`. */
  createDiskImage?: CreateDiskImage;
  /** Default: moveToTrash (desktop trash through gio, else `<root>/.trash`). */
  trash?: (folder: string) => Promise<TrashOutcome>;
  /** For finding `gio` and running it. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Tests inject failures here; default atomicWriteFile. */
  writeFileAtomic?: (file: string, data: string) => Promise<void>;
  now?: () => Date;
  randomUUID?: () => string;
  generateMacAddress?: () => string;
}

export const DEFAULT_CPUS = 1;
export const DEFAULT_MEMORY_MIB = 1024;
export const NEW_DISK_FILE = 'disk.qcow2';
const MIN_NEW_DISK_BYTES = 1024 * 1024;
const MAX_NEW_DISK_BYTES = 2 ** 46; // 64 TiB
const MAX_FOLDER_ATTEMPTS = 1000;
/** The registry's lock key; never a folder path (those are absolute). */
const REGISTRY_LOCK = 'library.json';

interface FolderRef {
  folder: string;
  imported: boolean;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Returned from inside the lock when the VM moved or vanished meanwhile: look it up again. */
const relocate = Symbol('relocate');

export class VmLibrary {
  readonly root: string;
  readonly #locks = new KeyedMutex();
  /** id → folder, from the last listing; verified under the lock before use. */
  readonly #folderById = new Map<string, FolderRef>();
  readonly #isRunning: (id: string) => boolean | Promise<boolean>;
  readonly #createDiskImage: CreateDiskImage | undefined;
  readonly #trash: (folder: string) => Promise<TrashOutcome>;
  readonly #write: (file: string, data: string) => Promise<void>;
  readonly #now: () => Date;
  readonly #randomUUID: () => string;
  readonly #generateMac: () => string;

  constructor(options: VmLibraryOptions) {
    this.root = path.resolve(options.root);
    this.#isRunning = options.isRunning ?? (() => false);
    this.#createDiskImage = options.createDiskImage;
    this.#now = options.now ?? (() => new Date());
    this.#trash =
      options.trash ??
      ((folder) =>
        moveToTrash(folder, {
          libraryRoot: this.root,
          now: this.#now,
          ...(options.env ? { env: options.env } : {}),
        }));
    this.#write = options.writeFileAtomic ?? ((file, data) => atomicWriteFile(file, data));
    this.#randomUUID = options.randomUUID ?? randomUUID;
    this.#generateMac = options.generateMacAddress ?? (() => generateMacAddress());
  }

  /** Every VM folder, valid or not. A missing root is an empty library. */
  async list(): Promise<LibraryListing> {
    const refs: FolderRef[] = (await this.#rootFolders()).map((folder) => ({
      folder,
      imported: false,
    }));
    const registry = await readImportRegistry(this.root);
    const listing: LibraryListing = { root: this.root, entries: [] };
    if (registry.ok) {
      const seen = new Set(refs.map((ref) => ref.folder));
      for (const folder of registry.registry.imported) {
        if (!seen.has(folder)) refs.push({ folder, imported: true });
        seen.add(folder);
      }
    } else {
      listing.registryProblem = registry.problem;
    }

    const reads = await Promise.all(refs.map((ref) => readVmFolder(ref.folder)));
    const firstFolderById = new Map<string, string>();
    this.#folderById.clear();
    refs.forEach((ref, index) => {
      const read = reads[index];
      if (!read) return;
      if (!read.ok) {
        listing.entries.push({ status: 'broken', ...ref, problem: read.problem });
        return;
      }
      const { id } = read.config;
      const first = firstFolderById.get(id);
      if (first !== undefined) {
        listing.entries.push({
          status: 'broken',
          ...ref,
          problem: {
            code: 'duplicate-id',
            message:
              `${ref.folder} has the same id (${id}) as ${first}, so it is a copy of that VM. ` +
              'Remove one of them from the library folder to use the other.',
          },
        });
        return;
      }
      firstFolderById.set(id, ref.folder);
      this.#folderById.set(id, ref);
      listing.entries.push({ status: 'ok', id, ...ref, config: read.config });
    });
    listing.entries.sort((a, b) => collator.compare(sortName(a), sortName(b)));
    return listing;
  }

  /** One VM by id; LibraryError 'not-found' or 'broken-vm'. */
  async get(id: string): Promise<LibraryVm> {
    return this.#withVm(id, async (vm) => vm);
  }

  async create(spec: CreateVmSpec): Promise<LibraryVm> {
    const config = this.#configFromSpec(spec);
    const newDisk = spec.newDisk;
    if (newDisk && !this.#createDiskImage) {
      throw new LibraryError(
        'disk-create-failed',
        "A new disk needs Nestbox's native core, which is not available here.",
      );
    }
    await mkdir(this.root, { recursive: true });
    const folder = await this.#claimFolder(folderNameFor(config.name));
    return this.#locks.run(folder, async () => {
      const diskFile = path.join(folder, NEW_DISK_FILE);
      try {
        if (newDisk && this.#createDiskImage) {
          try {
            await this.#createDiskImage(diskFile, { format: 'qcow2', size: newDisk.sizeBytes });
          } catch (error) {
            throw new LibraryError(
              'disk-create-failed',
              `The new disk ${diskFile} could not be made: ${messageOf(error)}`,
              [],
              { cause: error },
            );
          }
        }
        await this.#writeConfig(folder, config);
      } catch (error) {
        await this.#undoCreate(folder, newDisk ? [diskFile] : []);
        throw error;
      }
      const vm: LibraryVm = { id: config.id, folder, imported: false, config };
      this.#folderById.set(vm.id, { folder, imported: false });
      return vm;
    });
  }

  /**
   * Changes the display name in vm.json. The folder keeps the name it was given at creation:
   * renaming it would break paths that running VM hosts, snapshots and the user's own
   * scripts hold, for a cosmetic gain.
   */
  async rename(id: string, name: string): Promise<LibraryVm> {
    return this.update(id, { name: typeof name === 'string' ? name.trim() : name });
  }

  /**
   * Applies a patch (or a function of the current config returning one, for changes that
   * depend on the current value) under the VM's lock, validates the result and writes it.
   * Hardware and boot changes are refused while the VM runs ('vm-running').
   */
  async update(id: string, change: VmChange): Promise<LibraryVm> {
    return this.#withVm(id, async (vm) => {
      const patch = typeof change === 'function' ? await change(vm.config) : change;
      const result = applyVmPatch(vm.config, patch);
      if (!result.ok) {
        throw new LibraryError(
          'invalid-request',
          `The change to "${vm.config.name}" is not valid:\n${formatIssues(result.issues)}`,
          result.issues,
        );
      }
      const next = result.value;
      if (isUnchanged(vm.config, next)) return vm;
      const needOff = changesNeedingPowerOff(vm.config, next);
      if (needOff.length > 0 && (await this.#isRunning(vm.id))) {
        throw new LibraryError(
          'vm-running',
          `"${vm.config.name}" is running. Power it off to change ${needOff.join(', ')}.`,
        );
      }
      await this.#writeConfig(vm.folder, next);
      return { ...vm, config: next };
    });
  }

  /**
   * Moves a VM's folder to the trash (or erases it with `permanently`). A broken VM is
   * addressed by its folder. A running VM is refused. An imported VM also leaves library.json.
   */
  async delete(target: VmTarget, options: DeleteOptions = {}): Promise<DeleteOutcome> {
    if ('id' in target) {
      return this.#withVm(target.id, async (vm) => {
        if (await this.#isRunning(vm.id)) {
          throw new LibraryError(
            'vm-running',
            `"${vm.config.name}" is running. Power it off before deleting it.`,
          );
        }
        return this.#removeFolder(vm, options);
      });
    }
    const ref = await this.#findFolder(target.folder);
    return this.#locks.run(ref.folder, async () => {
      const read = await readVmFolder(ref.folder);
      if (read.ok && (await this.#isRunning(read.config.id))) {
        throw new LibraryError(
          'vm-running',
          `"${read.config.name}" is running. Power it off before deleting it.`,
        );
      }
      if (!read.ok && read.problem.code === 'folder-missing') {
        // Nothing left to trash: only the registration remains.
        if (ref.imported) await this.#unregister(ref.folder);
        return { folder: ref.folder, method: 'unregistered' };
      }
      return this.#removeFolder(ref, options);
    });
  }

  /** Removes an imported VM from library.json; its folder and files stay where they are. */
  async forget(target: VmTarget): Promise<void> {
    const ref =
      'id' in target ? await this.#locateOrThrow(target.id) : await this.#findFolder(target.folder);
    if (!ref.imported) {
      throw new LibraryError(
        'invalid-request',
        `${ref.folder} is inside the library folder; delete it or move it out of ${this.root} instead.`,
      );
    }
    await this.#locks.run(ref.folder, () => this.#unregister(ref.folder));
    for (const [id, known] of this.#folderById) {
      if (known.folder === ref.folder) this.#folderById.delete(id);
    }
  }

  /**
   * Adds a VM folder from elsewhere (another drive, a backup) to the library without moving
   * it. The folder must hold a valid vm.json; a folder without one is "not a Nestbox VM".
   */
  async import(folder: string): Promise<LibraryVm> {
    const absolute = path.resolve(folder);
    let isFolder: boolean;
    try {
      isFolder = (await stat(absolute)).isDirectory();
    } catch (error) {
      const code = errnoCode(error);
      const why =
        code === 'ENOENT' || code === 'ENOTDIR'
          ? 'there is no such folder'
          : code === 'EACCES'
            ? 'permission denied'
            : messageOf(error);
      throw new LibraryError('not-found', `${absolute} cannot be opened: ${why}.`, [], {
        cause: error,
      });
    }
    if (!isFolder) {
      throw new LibraryError('not-a-vm', `${absolute} is a file, not a Nestbox VM folder.`);
    }
    const read = await readVmFolder(absolute);
    if (!read.ok) {
      if (read.problem.code === 'missing-config') {
        throw new LibraryError('not-a-vm', `${absolute} is not a Nestbox VM: it has no vm.json.`);
      }
      throw new LibraryError('broken-vm', read.problem.message, read.problem.issues ?? []);
    }
    const config = read.config;
    return this.#locks.run(REGISTRY_LOCK, async () => {
      const real = await realpath(absolute);
      const rootReal = await realpath(this.root).catch(() => this.root);
      if (path.dirname(real) === rootReal) {
        throw new LibraryError(
          'already-in-library',
          `"${config.name}" is already in the library: ${absolute} is inside ${this.root}.`,
        );
      }
      const listing = await this.list();
      for (const entry of listing.entries) {
        const entryReal = await realpath(entry.folder).catch(() => entry.folder);
        if (entryReal === real) {
          const name = entry.status === 'ok' ? `"${entry.config.name}" ` : '';
          throw new LibraryError(
            'already-in-library',
            `${name}${absolute} is already in the library.`,
          );
        }
        if (entry.status === 'ok' && entry.id === config.id) {
          throw new LibraryError(
            'duplicate-id',
            `${absolute} has the same id as "${entry.config.name}" (${entry.folder}): it is a ` +
              'copy of a VM already in the library.',
          );
        }
      }
      const registry = await readImportRegistry(this.root);
      if (!registry.ok) throw new LibraryError('registry-broken', registry.problem);
      await mkdir(this.root, { recursive: true });
      await writeImportRegistry(
        this.root,
        { imported: [...registry.registry.imported, absolute] },
        this.#write,
      );
      this.#folderById.set(config.id, { folder: absolute, imported: true });
      return { id: config.id, folder: absolute, imported: true, config };
    });
  }

  // ---- internals ----

  /** Directories directly in the root, hidden ones (.trash) excepted. */
  async #rootFolders(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return [];
      throw new LibraryError(
        'library-unreadable',
        `The VM library folder ${this.root} cannot be read: ${messageOf(error)}`,
        [],
        { cause: error },
      );
    }
    const folders: string[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const folder = path.join(this.root, entry.name);
      if (entry.isDirectory()) {
        folders.push(folder);
      } else if (entry.isSymbolicLink()) {
        // A link to a VM folder kept elsewhere counts as a folder.
        const target = await stat(folder).catch(() => undefined);
        if (target?.isDirectory()) folders.push(folder);
      }
    }
    return folders.sort(collator.compare);
  }

  async #locate(id: string, fresh: boolean): Promise<FolderRef | undefined> {
    if (!fresh) {
      const cached = this.#folderById.get(id);
      if (cached) return cached;
    }
    await this.list();
    return this.#folderById.get(id);
  }

  async #locateOrThrow(id: string): Promise<FolderRef> {
    const ref = await this.#locate(id, true);
    if (!ref) throw this.#notFound(id);
    return ref;
  }

  #notFound(id: string): LibraryError {
    return new LibraryError(
      'not-found',
      `There is no VM with id ${id} in the library (${this.root}).`,
    );
  }

  /** Runs `task` under the VM's lock with its current, valid config. */
  async #withVm<T>(requestedId: string, task: (vm: LibraryVm) => Promise<T>): Promise<T> {
    if (typeof requestedId !== 'string') throw this.#notFound(String(requestedId));
    // vm.json may hold an upper-case UUID; the library keys VMs by the lower-case form.
    const id = requestedId.toLowerCase();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const ref = await this.#locate(id, attempt > 0);
      if (!ref) break;
      const outcome = await this.#locks.run(ref.folder, async () => {
        const read = await readVmFolder(ref.folder);
        if (!read.ok) {
          if (read.problem.code === 'folder-missing' || read.problem.code === 'missing-config') {
            return relocate;
          }
          throw new LibraryError('broken-vm', read.problem.message, read.problem.issues ?? []);
        }
        if (read.config.id !== id) return relocate;
        return { value: await task({ id, ...ref, config: read.config }) };
      });
      if (outcome !== relocate) return outcome.value;
      this.#folderById.delete(id);
    }
    throw this.#notFound(id);
  }

  /** A folder that is in the library (in the root, or imported), by path. */
  async #findFolder(folder: string): Promise<FolderRef> {
    const absolute = path.resolve(folder);
    const listing = await this.list();
    const entry = listing.entries.find((candidate) => candidate.folder === absolute);
    if (!entry) {
      throw new LibraryError('not-found', `${absolute} is not a VM folder of this library.`);
    }
    return { folder: entry.folder, imported: entry.imported };
  }

  #configFromSpec(spec: CreateVmSpec): VmConfig {
    const issues = new IssueList();
    const record = readObject(issues, spec, '', {
      required: ['name', 'boot'],
      optional: ['notes', 'guestOs', 'hardware', 'newDisk'],
    });
    if (!record) throw invalidSpec(issues.issues);
    const hardware =
      record['hardware'] === undefined
        ? {}
        : readObject(issues, record['hardware'], 'hardware', {
            required: [],
            optional: ['cpus', 'memoryMiB', 'disks', 'network', 'display'],
          });
    const network =
      hardware?.['network'] === undefined
        ? {}
        : readObject(issues, hardware['network'], 'hardware.network', {
            required: [],
            optional: ['mode', 'portForwards'],
          });
    if (record['newDisk'] !== undefined) {
      const newDisk = readObject(issues, record['newDisk'], 'newDisk', { required: ['sizeBytes'] });
      if (newDisk && Object.hasOwn(newDisk, 'sizeBytes')) {
        readInteger(issues, newDisk['sizeBytes'], joinPath('newDisk', 'sizeBytes'), {
          min: MIN_NEW_DISK_BYTES,
          max: MAX_NEW_DISK_BYTES,
          unit: 'bytes',
        });
      }
    }
    if (!issues.empty || !hardware || !network) throw invalidSpec(issues.issues);

    const disks: unknown[] = Array.isArray(hardware['disks']) ? [...hardware['disks']] : [];
    if (record['newDisk'] !== undefined) disks.unshift({ file: NEW_DISK_FILE, format: 'qcow2' });
    const raw = {
      schemaVersion: VM_SCHEMA_VERSION,
      id: this.#randomUUID(),
      name: typeof record['name'] === 'string' ? record['name'].trim() : record['name'],
      notes: record['notes'] ?? '',
      guestOs: record['guestOs'] ?? 'linux',
      createdAt: this.#now().toISOString(),
      hardware: {
        cpus: hardware['cpus'] ?? DEFAULT_CPUS,
        memoryMiB: hardware['memoryMiB'] ?? DEFAULT_MEMORY_MIB,
        disks:
          hardware['disks'] === undefined || Array.isArray(hardware['disks'])
            ? disks
            : hardware['disks'],
        network: {
          mode: network['mode'] ?? 'nat',
          macAddress: this.#generateMac(),
          portForwards: network['portForwards'] ?? [],
        },
        display: hardware['display'] === undefined ? { ...defaultDisplay } : hardware['display'],
        serial: true,
      },
      boot: record['boot'],
    };
    const validated = validateVmConfig(raw);
    if (!validated.ok) throw invalidSpec(validated.issues);
    return validated.value;
  }

  /** Makes the VM's folder under a free name; mkdir (not recursive) never reuses a folder. */
  async #claimFolder(base: string): Promise<string> {
    for (let attempt = 1; attempt <= MAX_FOLDER_ATTEMPTS; attempt += 1) {
      const folder = path.join(this.root, numberedFolderName(base, attempt));
      try {
        await mkdir(folder);
        return folder;
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw error;
      }
    }
    throw new Error(`No free folder name for "${base}" in ${this.root}`);
  }

  /** Takes back what a failed create made: only files this call wrote, then the empty folder. */
  async #undoCreate(folder: string, madeFiles: readonly string[]): Promise<void> {
    for (const file of madeFiles) await rm(file, { force: true }).catch(() => undefined);
    await removeStaleConfigTemps(folder, 0);
    await rmdir(folder).catch(() => undefined);
  }

  async #writeConfig(folder: string, config: VmConfig): Promise<void> {
    await removeStaleConfigTemps(folder);
    await this.#write(vmConfigPath(folder), serializeVmConfig(config));
  }

  async #removeFolder(ref: FolderRef, options: DeleteOptions): Promise<DeleteOutcome> {
    if (ref.imported) {
      // Check before anything moves: a broken library.json would keep a dangling entry.
      const registry = await readImportRegistry(this.root);
      if (!registry.ok) throw new LibraryError('registry-broken', registry.problem);
    }
    let outcome: DeleteOutcome;
    if (options.permanently) {
      await rm(ref.folder, { recursive: true });
      outcome = { folder: ref.folder, method: 'permanent' };
    } else {
      try {
        outcome = { folder: ref.folder, ...(await this.#trash(ref.folder)) };
      } catch (error) {
        throw new LibraryError('trash-failed', messageOf(error), [], { cause: error });
      }
    }
    for (const [id, known] of this.#folderById) {
      if (known.folder === ref.folder) this.#folderById.delete(id);
    }
    if (ref.imported) await this.#unregister(ref.folder);
    return outcome;
  }

  async #unregister(folder: string): Promise<void> {
    await this.#locks.run(REGISTRY_LOCK, async () => {
      const registry = await readImportRegistry(this.root);
      if (!registry.ok) throw new LibraryError('registry-broken', registry.problem);
      const imported = registry.registry.imported.filter((known) => known !== folder);
      if (imported.length === registry.registry.imported.length) return;
      await writeImportRegistry(this.root, { imported }, this.#write);
    });
  }
}

function sortName(entry: LibraryEntry): string {
  return entry.status === 'ok' ? entry.config.name : path.basename(entry.folder);
}

function invalidSpec(issues: ValidationIssue[]): LibraryError {
  return new LibraryError(
    'invalid-request',
    `The new VM is not valid:\n${formatIssues(issues)}`,
    issues,
  );
}
