/**
 * Which VMs of a library run, and starting them: the client side of the VM hosts.
 *
 * A VM's runtime state comes from its folder and its host: `.nestbox/host.json` names the host
 * (pid, socket); a host that answers on its socket says running or paused; a host.json whose
 * process is gone means the host died without cleaning up — crashed, with the log kept; no
 * host.json means off, or crashed when `.nestbox/last-exit.json` records a failure. Nothing here
 * changes a VM's files: a stale host.json is cleared by the next host that starts.
 *
 * `start` spawns the host detached (its own session, stdout/stderr appended to the VM's log)
 * and resolves once the host reports the machine running, or rejects with the host's own
 * account of why not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { VmLibrary } from '../library/vm-library.ts';
import { SnapshotLayout } from '../snapshots/snapshot-layout.ts';
import { readTreeFile } from '../snapshots/snapshot-tree-file.ts';
import { defaultHostLauncher, type HostLauncher } from './host-launcher.ts';
import type { HostStatus, LastExit } from './protocol.ts';
import {
  isCrash,
  isHostProcessAlive,
  readHostRecord,
  readLastExit,
  vmLogPath,
} from './runtime-files.ts';
import { VmHostClient, VmHostError } from './vm-host-client.ts';
import type { StartupReport } from './vm-host.ts';
import { rotateVmLog, tailOfLog } from './vm-log.ts';

export type VmRunState = 'off' | 'suspended' | 'running' | 'paused' | 'crashed' | 'unresponsive';

export interface VmRuntimeStatus {
  state: VmRunState;
  /** The host's pid: the live one, or the one that died ('crashed'). */
  pid?: number;
  socketPath?: string;
  /** How the previous run ended, when it is recorded. */
  lastExit?: LastExit;
  /** For people: why 'crashed' or 'unresponsive'. */
  detail?: string;
}

/** What identifies a VM here: its id, and its folder (where its runtime files are). */
export interface VmRef {
  id: string;
  folder: string;
  config?: { name: string };
}

export interface StartedVmHost {
  pid: number;
  socketPath: string;
}

/** Why a start failed; `code` is the host's (a NativeErrorCode, 'already-running'…) or the launcher's. */
export class VmStartError extends Error {
  override readonly name = 'VmStartError';

  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface VmHostRegistryOptions {
  /**
   * To find VMs by id. Only `list` is used: it takes no lock, so the library may ask
   * `isRunning` while it holds a VM's lock (update, delete) without deadlocking.
   */
  library: Pick<VmLibrary, 'list'>;
  /** The environment hosts get (and the socket location with it). Default process.env. */
  env?: NodeJS.ProcessEnv;
  launcher?: HostLauncher;
  /** How long a host may take to report (default 60 s: a slow disk, a cold cache). */
  startTimeoutMs?: number;
  /** How long a status probe waits for a host to answer (default 3 s). */
  probeTimeoutMs?: number;
}

/** Environment variables that hold paths: made absolute, since the host runs in `/`. */
const PATH_VARIABLES = ['NESTBOX_ADDON', 'NESTBOX_KVM_DEVICE', 'NESTBOX_HOME', 'NESTBOX_VM_HOST'];

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function nameOf(vm: VmRef): string {
  return vm.config ? `"${vm.config.name}"` : `VM ${vm.id}`;
}

export class VmHostRegistry {
  readonly #library: Pick<VmLibrary, 'list'>;
  readonly #env: NodeJS.ProcessEnv;
  readonly #launcher: HostLauncher;
  readonly #startTimeoutMs: number;
  readonly #probeTimeoutMs: number;

  constructor(options: VmHostRegistryOptions) {
    this.#library = options.library;
    this.#env = options.env ?? process.env;
    this.#launcher = options.launcher ?? defaultHostLauncher(this.#env);
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 3000;
  }

  /** The VM's runtime state, by looking at its files and asking its host. */
  async status(vm: VmRef): Promise<VmRuntimeStatus> {
    const host = await readHostRecord(vm.folder);
    const lastExit = await readLastExit(vm.folder);
    const previous = lastExit ? { lastExit } : {};
    if (host.kind === 'unreadable') {
      return {
        state: 'crashed',
        detail: `${path.join(vm.folder, '.nestbox', 'host.json')} is damaged: the VM host did not shut down cleanly`,
        ...previous,
      };
    }
    if (host.kind === 'none') {
      // A saved state outlives however the last run ended: the VM continues it.
      if (await hasResumePoint(vm.folder)) return { state: 'suspended', ...previous };
      if (lastExit && isCrash(lastExit)) {
        return {
          state: 'crashed',
          lastExit,
          detail: `the VM failed: ${lastExit.error?.message ?? lastExit.reason}`,
        };
      }
      return { state: 'off', ...previous };
    }
    const { pid, socketPath } = host.record;
    if (!isHostProcessAlive(pid)) {
      if (await hasResumePoint(vm.folder)) {
        return {
          state: 'suspended',
          pid,
          ...previous,
          detail: `its saved state was committed before the VM host (pid ${pid}) ended`,
        };
      }
      return {
        state: 'crashed',
        pid,
        ...previous,
        detail: `the VM host (pid ${pid}) ended without shutting down: it crashed or was killed`,
      };
    }
    let status: HostStatus;
    try {
      status = await this.#probe(socketPath);
    } catch (error) {
      // It may have finished between the two looks.
      if (!isHostProcessAlive(pid)) return this.status(vm);
      return {
        state: 'unresponsive',
        pid,
        socketPath,
        detail: `the VM host (pid ${pid}) does not answer: ${messageOf(error)}`,
      };
    }
    if (status.state === 'stopped' || status.state === 'error') {
      // The machine ended and the host is on its way out.
      return { state: 'off', pid, socketPath, ...previous };
    }
    return { state: status.state === 'paused' ? 'paused' : 'running', pid, socketPath };
  }

  /** Running, paused, or with a host that does not answer (it still holds the VM). */
  async isRunning(id: string): Promise<boolean> {
    const vm = await this.#find(id);
    return vm !== undefined && isActive((await this.status(vm)).state);
  }

  async #find(id: string): Promise<VmRef | undefined> {
    const wanted = id.toLowerCase();
    const listing = await this.#library.list();
    return listing.entries.find(
      (entry): entry is Extract<typeof entry, { status: 'ok' }> =>
        entry.status === 'ok' && entry.id === wanted,
    );
  }

  /**
   * Removes what a dead host left outside the VM's folder (its socket in $XDG_RUNTIME_DIR),
   * e.g. before the folder is deleted. Nothing happens while a host is alive.
   */
  async clearDeadHost(vm: VmRef): Promise<void> {
    const host = await readHostRecord(vm.folder);
    if (host.kind !== 'ok' || isHostProcessAlive(host.record.pid)) return;
    await rm(host.record.socketPath, { force: true }).catch(() => undefined);
  }

  /** A client of the VM's host; VmHostError 'not-running' when none runs. */
  async connect(vm: VmRef): Promise<VmHostClient> {
    const host = await readHostRecord(vm.folder);
    if (host.kind !== 'ok') {
      throw new VmHostError('not-running', `${nameOf(vm)} is not running`);
    }
    try {
      return await VmHostClient.connect(host.record.socketPath, {
        timeoutMs: this.#probeTimeoutMs,
      });
    } catch (error) {
      if (error instanceof VmHostError && !isHostProcessAlive(host.record.pid)) {
        throw new VmHostError(
          'not-running',
          `${nameOf(vm)} is not running: its VM host (pid ${host.record.pid}) crashed or was killed`,
          { cause: error },
        );
      }
      if (error instanceof VmHostError && error.code === 'not-running') {
        throw new VmHostError('not-running', `${nameOf(vm)} is not running`, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Starts the VM in a VM host of its own. Resolves once it runs; rejects with VmStartError
   * ('already-running', the host's startup error such as IMAGE_CORRUPT or KERNEL_NOT_FOUND, or
   * 'host-failed' with the end of the log when the host died before saying why).
   */
  async start(target: VmRef | string): Promise<StartedVmHost> {
    const vm = typeof target === 'string' ? await this.#find(target) : target;
    if (!vm) throw new VmStartError('not-found', `there is no VM with id ${String(target)}`);
    const current = await this.status(vm);
    if (isActive(current.state)) {
      throw new VmStartError(
        'already-running',
        `${nameOf(vm)} is already running (VM host pid ${current.pid ?? '?'})`,
      );
    }
    const logFile = vmLogPath(vm.folder);
    await mkdir(path.dirname(logFile), { recursive: true });
    rotateVmLog(logFile);
    const logFd = openSync(logFile, 'a', 0o644);
    let child: ChildProcess;
    try {
      child = spawn(
        this.#launcher.command,
        [...this.#launcher.args, '--vm-folder', vm.folder, '--report-fd', '3'],
        {
          // Its own session: no terminal signals, and it outlives whoever started it.
          detached: true,
          stdio: ['ignore', logFd, logFd, 'pipe'],
          cwd: '/',
          env: this.#hostEnv(),
        },
      );
    } finally {
      closeSync(logFd);
    }
    const report = await this.#awaitReport(child, logFile);
    if (!report.ok) {
      throw new VmStartError(report.error.code, report.error.message);
    }
    return { pid: report.pid, socketPath: report.socketPath };
  }

  #hostEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...this.#env, ...this.#launcher.env };
    for (const name of PATH_VARIABLES) {
      const value = env[name];
      if (value) env[name] = path.resolve(value);
    }
    return env;
  }

  /** Reads the host's one report from fd 3; falls back to the log if it died without one. */
  #awaitReport(child: ChildProcess, logFile: string): Promise<StartupReport> {
    const pipe = child.stdio[3] as Readable | null;
    return new Promise<StartupReport>((resolve, reject) => {
      let text = '';
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        pipe?.destroy();
        child.unref();
        outcome();
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(() =>
          reject(
            new VmStartError(
              'start-timeout',
              `the VM host did not report within ${this.#startTimeoutMs / 1000} s; see ${logFile}`,
            ),
          ),
        );
      }, this.#startTimeoutMs);
      const parse = (): StartupReport | undefined => {
        const line = text.split('\n').find((candidate) => candidate.trim() !== '');
        if (line === undefined) return undefined;
        try {
          const value = JSON.parse(line) as StartupReport;
          return typeof value === 'object' && value !== null && typeof value.ok === 'boolean'
            ? value
            : undefined;
        } catch {
          return undefined;
        }
      };
      const withoutReport = (why: string) => {
        void readFile(logFile, 'utf8')
          .catch(() => '')
          .then((log) =>
            finish(() =>
              reject(
                new VmStartError(
                  'host-failed',
                  `the VM host ${why} before reporting. The end of ${logFile}:\n${tailOfLog(log)}`,
                ),
              ),
            ),
          );
      };
      child.once('error', (error) =>
        finish(() =>
          reject(
            new VmStartError('host-failed', `cannot run the VM host: ${error.message}`, {
              cause: error,
            }),
          ),
        ),
      );
      if (!pipe) {
        finish(() => reject(new VmStartError('host-failed', 'no report pipe to the VM host')));
        return;
      }
      pipe.setEncoding('utf8');
      pipe.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n')) {
          const report = parse();
          if (report) finish(() => resolve(report));
        }
      });
      pipe.on('error', () => undefined);
      pipe.on('end', () => {
        const report = parse();
        if (report) finish(() => resolve(report));
        else if (child.exitCode !== null || child.signalCode !== null) {
          withoutReport(`exited (${child.exitCode ?? child.signalCode})`);
        } else {
          child.once('exit', (code, signal) => withoutReport(`exited (${code ?? signal})`));
        }
      });
    });
  }

  async #probe(socketPath: string): Promise<HostStatus> {
    const client = await VmHostClient.connect(socketPath, { timeoutMs: this.#probeTimeoutMs });
    try {
      return await client.call('status', undefined, { timeoutMs: this.#probeTimeoutMs });
    } finally {
      client.destroy();
    }
  }
}

/** States in which a host holds the VM. */
/**
 * Whether the VM is suspended: its snapshot tree names a resume point. A broken tree counts as
 * not suspended here; the snapshot store reports it when the VM is used.
 */
async function hasResumePoint(folder: string): Promise<boolean> {
  const read = await readTreeFile(new SnapshotLayout(folder).treeFile);
  return read.status === 'ok' && read.document.current.resume != null;
}

export function isActive(state: VmRunState): boolean {
  return state === 'running' || state === 'paused' || state === 'unresponsive';
}
