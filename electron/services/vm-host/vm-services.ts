/**
 * The library and the VM hosts wired together, as the CLI (and later `nestbox serve` and the
 * app) use them: the library asks the registry whether a VM runs before it lets a change or a
 * delete through, and VMs are found by name or by id.
 */
import { readFile } from 'node:fs/promises';
import { parseJsonText } from '../library/json-text.ts';
import { resolveLibraryRoot } from '../library/library-paths.ts';
import {
  VmLibrary,
  type BrokenVmEntry,
  type CreateDiskImage,
  type LibraryListing,
  type LibraryVm,
} from '../library/vm-library.ts';
import { settingsFilePath } from '../settings/settings-store.ts';
import { readSettings } from '../settings/settings.ts';
import type { BrokenVmSummary, VmList, VmSummary } from '../../common/vm-list.ts';
import type { HostLauncher } from './host-launcher.ts';
import { VmHostRegistry } from './vm-host-registry.ts';

export interface VmServices {
  root: string;
  library: VmLibrary;
  registry: VmHostRegistry;
}

export interface VmServicesOptions {
  env?: NodeJS.ProcessEnv;
  /** Needed only to create VMs with a new disk (the addon's imageCreate). */
  createDiskImage?: CreateDiskImage;
  launcher?: HostLauncher;
}

/**
 * The library root as the app sees it: the `vmFolder` preference in settings.json when set,
 * else `$NESTBOX_HOME/vms`, else the XDG default. settings.json is only read: a broken one is
 * the app's to repair, and means the default here.
 */
export async function libraryRootFor(env: NodeJS.ProcessEnv): Promise<string> {
  let vmFolder: string | null = null;
  try {
    const parsed = parseJsonText(await readFile(settingsFilePath(env), 'utf8'));
    if (parsed.ok) vmFolder = readSettings(parsed.value).settings.vmFolder;
  } catch {
    // No settings file: the default location.
  }
  return resolveLibraryRoot(env, vmFolder);
}

export async function openVmServices(options: VmServicesOptions = {}): Promise<VmServices> {
  const env = options.env ?? process.env;
  const root = await libraryRootFor(env);
  // Each asks the other lazily: the registry finds VMs in the library, the library asks the
  // registry whether a VM runs.
  const registry: VmHostRegistry = new VmHostRegistry({
    library: { list: () => library.list() },
    env,
    ...(options.launcher ? { launcher: options.launcher } : {}),
  });
  const library: VmLibrary = new VmLibrary({
    root,
    env,
    isRunning: (id) => registry.isRunning(id),
    ...(options.createDiskImage ? { createDiskImage: options.createDiskImage } : {}),
  });
  return { root, library, registry };
}

/** A VM not found by name or id, or a name that fits several. */
export class VmLookupError extends Error {
  override readonly name = 'VmLookupError';

  constructor(
    readonly code: 'not-found' | 'ambiguous' | 'broken',
    message: string,
    /** With 'broken': the entry, e.g. for deleting it by folder. */
    readonly broken?: BrokenVmEntry,
  ) {
    super(message);
  }
}

/** Shortest id prefix that `nestbox` accepts. */
const MIN_ID_PREFIX = 4;

/**
 * The VM that `nameOrId` names: an exact id, then an exact name, then a name differing only in
 * case, then an id prefix of at least 4 characters. A broken folder by its folder name is
 * reported as such, so the user hears what is wrong with it.
 */
export function findVm(listing: LibraryListing, nameOrId: string): LibraryVm {
  const wanted = nameOrId.trim();
  const ok = listing.entries.filter((entry) => entry.status === 'ok');
  const lower = wanted.toLowerCase();
  const candidates = [
    ok.filter((vm) => vm.id === lower),
    ok.filter((vm) => vm.config.name === wanted),
    ok.filter((vm) => vm.config.name.toLowerCase() === lower),
    lower.length >= MIN_ID_PREFIX && /^[0-9a-f-]+$/.test(lower)
      ? ok.filter((vm) => vm.id.startsWith(lower))
      : [],
  ];
  for (const matches of candidates) {
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw new VmLookupError(
        'ambiguous',
        `"${wanted}" fits ${matches.length} VMs; use an id:\n` +
          matches.map((vm) => `  ${vm.id}  ${vm.config.name}  (${vm.folder})`).join('\n'),
      );
    }
  }
  const broken = listing.entries.find(
    (entry): entry is BrokenVmEntry =>
      entry.status === 'broken' &&
      (entry.folder === wanted || entry.folder.split('/').pop() === wanted),
  );
  if (broken) {
    throw new VmLookupError('broken', broken.problem.message, broken);
  }
  throw new VmLookupError(
    'not-found',
    `there is no VM named "${wanted}" in ${listing.root} (\`nestbox list\` shows them)`,
  );
}

/** Every VM of the library with whether it runs, and the folders that are not usable VMs. */
export async function listVms(services: VmServices): Promise<VmList> {
  const listing = await services.library.list();
  const vms: VmSummary[] = [];
  const broken: BrokenVmSummary[] = [];
  // Indexed, so the order is the library's whatever order the probes answer in.
  await Promise.all(
    listing.entries.map(async (entry, index) => {
      if (entry.status === 'broken') {
        broken[index] = {
          folder: entry.folder,
          code: entry.problem.code,
          message: entry.problem.message,
        };
        return;
      }
      const status = await services.registry.status(entry);
      vms[index] = {
        name: entry.config.name,
        id: entry.id,
        folder: entry.folder,
        state: status.state,
        ...(status.pid !== undefined ? { pid: status.pid } : {}),
        ...(status.detail !== undefined ? { detail: status.detail } : {}),
        ...(status.lastExit !== undefined ? { lastExit: status.lastExit } : {}),
      };
    }),
  );
  return {
    root: listing.root,
    vms: vms.filter(Boolean),
    broken: broken.filter(Boolean),
    ...(listing.registryProblem ? { registryProblem: listing.registryProblem } : {}),
  };
}
