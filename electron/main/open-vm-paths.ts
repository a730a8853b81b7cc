/**
 * VM folders handed to the app from outside: on the command line (`nestbox ~/vms/web`), by the
 * file manager through the .desktop entry's `%F` (the AppImage's entry passes `%U`: file://
 * URLs), or by a second launch while the app runs (`second-instance` brings its argv here).
 * Which arguments are folders to open, and what opening one means: a VM of the library is
 * shown; any other VM folder is added to the library (`vms.import`) and then shown.
 *
 * Pure: the services come in as functions, so this is tested under plain Node (Electron cannot
 * run on the build machines); main.ts only wires it to the window.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VmDetails } from '../common/vm-details.ts';
import type { VmList } from '../common/vm-list.ts';

export interface ArgvContext {
  /**
   * `process.defaultApp`: started as `electron <app path> …` (a checkout), so the first
   * argument after the executable is the app itself, not a folder.
   */
  defaultApp: boolean;
  /** Where relative paths start: this process's working directory, or the second launch's. */
  workingDirectory: string;
}

/**
 * The folders named in `argv` (argv[0] is the executable), absolute, each once, in order.
 * Anything starting with `-` is a switch (Electron's, Chromium's, or one Chromium added to a
 * second instance's argv) and skipped; so is a URL that is not a local file. A path to a
 * `vm.json` names its folder.
 */
export function vmFoldersInArgv(argv: readonly string[], context: ArgvContext): string[] {
  const positionals = argv.slice(1).filter((arg) => arg !== '' && !arg.startsWith('-'));
  if (context.defaultApp) positionals.shift();
  const folders: string[] = [];
  for (const arg of positionals) {
    const folder = folderOf(arg, context.workingDirectory);
    if (folder !== null && !folders.includes(folder)) folders.push(folder);
  }
  return folders;
}

function folderOf(arg: string, workingDirectory: string): string | null {
  let file = arg;
  if (/^file:/i.test(arg)) {
    try {
      file = fileURLToPath(arg);
    } catch {
      return null; // file://host/… on another machine
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
    return null; // sftp://, smb://…: not a folder the VM host could use
  }
  const absolute = path.resolve(workingDirectory, file);
  return path.basename(absolute) === 'vm.json' ? path.dirname(absolute) : absolute;
}

/** What the app needs to open folders: the contract's requests, and the file system's realpath. */
export interface OpenVmServices {
  importVm(folder: string): Promise<Pick<VmDetails, 'id' | 'folder' | 'config'>>;
  listVms(): Promise<VmList>;
  realpath(file: string): Promise<string>;
}

export type OpenVmOutcome =
  /** Added to the library now. */
  | { kind: 'imported'; folder: string; id: string; name: string }
  /** It was in the library already: shown. */
  | { kind: 'in-library'; folder: string; id: string; name: string }
  /** A folder of the library whose vm.json is broken: its page says why and offers Delete. */
  | { kind: 'broken'; folder: string }
  | { kind: 'failed'; folder: string; message: string };

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Opens one folder (absolute); never throws: a refusal is a 'failed' outcome with the reason. */
export async function openVmFolder(
  folder: string,
  services: OpenVmServices,
): Promise<OpenVmOutcome> {
  try {
    const vm = await services.importVm(folder);
    return { kind: 'imported', folder: vm.folder, id: vm.id, name: vm.config.name };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    // In the library already (under this path or another one to the same folder), or in it
    // and broken: show it rather than refuse.
    if (code === 'already-in-library' || code === 'broken-vm') {
      const found = await findInLibrary(folder, services).catch(() => null);
      if (found) return found;
    }
    return { kind: 'failed', folder, message: messageOf(error) };
  }
}

async function findInLibrary(
  folder: string,
  services: OpenVmServices,
): Promise<OpenVmOutcome | null> {
  const real = (file: string) => services.realpath(file).catch(() => path.resolve(file));
  const target = await real(folder);
  const list = await services.listVms();
  for (const vm of list.vms) {
    if ((await real(vm.folder)) === target) {
      return { kind: 'in-library', folder: vm.folder, id: vm.id, name: vm.name };
    }
  }
  for (const broken of list.broken) {
    if ((await real(broken.folder)) === target) return { kind: 'broken', folder: broken.folder };
  }
  return null;
}

/** The renderer's hash route for an outcome (renderer/src/app/routes.ts), or null. */
export function routeFor(outcome: OpenVmOutcome): string | null {
  switch (outcome.kind) {
    case 'imported':
    case 'in-library':
      return `#/vms/${encodeURIComponent(outcome.id)}`;
    case 'broken':
      return `#/broken/${encodeURIComponent(outcome.folder)}`;
    case 'failed':
      return null;
  }
}

export interface OpenVmFoldersResult {
  /** The route of the last folder opened, to show; null when none could be. */
  route: string | null;
  outcomes: OpenVmOutcome[];
  /** The folders that could not be opened, with why. */
  failures: { folder: string; message: string }[];
}

/** Opens each folder in turn (one after another: imports change library.json). */
export async function openVmFolders(
  folders: readonly string[],
  services: OpenVmServices,
): Promise<OpenVmFoldersResult> {
  const outcomes: OpenVmOutcome[] = [];
  for (const folder of folders) outcomes.push(await openVmFolder(folder, services));
  const routes = outcomes.map(routeFor).filter((route) => route !== null);
  return {
    route: routes.at(-1) ?? null,
    outcomes,
    failures: outcomes.flatMap((outcome) =>
      outcome.kind === 'failed' ? [{ folder: outcome.folder, message: outcome.message }] : [],
    ),
  };
}

/** The error box's text for folders that could not be opened. */
export function describeFailures(failures: OpenVmFoldersResult['failures']): {
  message: string;
  detail: string;
} {
  const [only] = failures;
  return {
    message:
      failures.length === 1 && only
        ? `Couldn’t open ${only.folder}`
        : `Couldn’t open ${failures.length} folders`,
    detail: failures
      .map((failure) =>
        failures.length === 1 ? failure.message : `${failure.folder}:\n${failure.message}`,
      )
      .join('\n\n'),
  };
}
