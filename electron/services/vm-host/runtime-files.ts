/**
 * Where a VM host keeps its runtime files, and reading them back:
 *
 *   $XDG_RUNTIME_DIR/nestbox/vms/<vm-id>.sock  the control socket (0600 in a 0700 folder);
 *                                              without XDG_RUNTIME_DIR (or when that path is
 *                                              too long for a socket address):
 *                                              <vm-folder>/.nestbox/control.sock
 *   <vm-folder>/.nestbox/host.json             the pid file: pid, socket path, start time.
 *                                              Present exactly while a host runs (or after
 *                                              one died without cleaning up: a crash)
 *   <vm-folder>/.nestbox/last-exit.json        how the last run ended (LastExit)
 *   <vm-folder>/logs/vm.log                    the VM's log
 *
 * Clients find the socket through host.json, so they need not share the host's environment.
 */
import { lstat, mkdir, chmod, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '../atomic-write-file.ts';
import type { LastExit } from './protocol.ts';

export const HOST_DIR = '.nestbox';
export const HOST_RECORD_FILE = 'host.json';
export const LAST_EXIT_FILE = 'last-exit.json';
export const FALLBACK_SOCKET_FILE = 'control.sock';
export const LOG_DIR = 'logs';
export const LOG_FILE = 'vm.log';
/** sun_path is 108 bytes, NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;

export function hostDir(folder: string): string {
  return path.join(folder, HOST_DIR);
}

export function hostRecordPath(folder: string): string {
  return path.join(hostDir(folder), HOST_RECORD_FILE);
}

export function lastExitPath(folder: string): string {
  return path.join(hostDir(folder), LAST_EXIT_FILE);
}

export function vmLogPath(folder: string): string {
  return path.join(folder, LOG_DIR, LOG_FILE);
}

/** The control socket of VM `vmId` in `folder`, for a host started with `env`. */
export function controlSocketPath(
  vmId: string,
  folder: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const runtimeDir = env['XDG_RUNTIME_DIR'];
  // The XDG spec says to ignore a relative path.
  if (runtimeDir && path.isAbsolute(runtimeDir)) {
    const socket = path.join(runtimeDir, 'nestbox', 'vms', `${vmId}.sock`);
    if (Buffer.byteLength(socket) <= MAX_SOCKET_PATH_BYTES) return socket;
  }
  return path.join(hostDir(folder), FALLBACK_SOCKET_FILE);
}

/** Whether `socketPath` fits a Unix socket address. */
export function socketPathFits(socketPath: string): boolean {
  return Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH_BYTES;
}

/** Creates the folder 0700, or checks that an existing one is ours, a folder, and private. */
export async function ensurePrivateDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const info = await lstat(directory);
  if (!info.isDirectory()) {
    throw new Error(`${directory} is not a folder; remove it and start the VM again`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new Error(`${directory} belongs to another user; refusing to put a VM's socket there`);
  }
  if ((info.mode & 0o777) !== 0o700) await chmod(directory, 0o700);
}

/** host.json: who runs the VM now. */
export interface HostRecord {
  pid: number;
  vmId: string;
  socketPath: string;
  /** ISO 8601. */
  startedAt: string;
  protocolVersion: number;
  hostVersion: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseHostRecord(text: string): HostRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    !isRecord(value) ||
    typeof value['pid'] !== 'number' ||
    !Number.isInteger(value['pid']) ||
    value['pid'] <= 0 ||
    typeof value['vmId'] !== 'string' ||
    typeof value['socketPath'] !== 'string' ||
    typeof value['startedAt'] !== 'string'
  ) {
    return undefined;
  }
  return {
    pid: value['pid'],
    vmId: value['vmId'],
    socketPath: value['socketPath'],
    startedAt: value['startedAt'],
    protocolVersion: typeof value['protocolVersion'] === 'number' ? value['protocolVersion'] : 0,
    hostVersion: typeof value['hostVersion'] === 'string' ? value['hostVersion'] : 'unknown',
  };
}

export type HostRecordRead =
  | { kind: 'none' }
  | { kind: 'ok'; record: HostRecord }
  /** A file that is not a host record (cut short by a crash, or edited): treated as stale. */
  | { kind: 'unreadable' };

export async function readHostRecord(folder: string): Promise<HostRecordRead> {
  let text: string;
  try {
    text = await readFile(hostRecordPath(folder), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'unreadable' };
  }
  const record = parseHostRecord(text);
  return record ? { kind: 'ok', record } : { kind: 'unreadable' };
}

export async function writeHostRecord(folder: string, record: HostRecord): Promise<void> {
  await atomicWriteFile(hostRecordPath(folder), `${JSON.stringify(record, null, 2)}\n`, {
    mode: 0o600,
  });
}

const lastExitStates = new Set(['stopped', 'error', 'start-failed']);

export async function readLastExit(folder: string): Promise<LastExit | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(lastExitPath(folder), 'utf8'));
  } catch {
    return undefined;
  }
  if (
    !isRecord(value) ||
    typeof value['state'] !== 'string' ||
    !lastExitStates.has(value['state']) ||
    typeof value['reason'] !== 'string' ||
    typeof value['at'] !== 'string'
  ) {
    return undefined;
  }
  const error = value['error'];
  return {
    state: value['state'] as LastExit['state'],
    reason: value['reason'] as LastExit['reason'],
    ...(isRecord(error) && typeof error['message'] === 'string'
      ? {
          error: {
            message: error['message'],
            ...(typeof error['code'] === 'string' ? { code: error['code'] } : {}),
          },
        }
      : {}),
    at: value['at'],
    pid: typeof value['pid'] === 'number' ? value['pid'] : 0,
  };
}

export async function writeLastExit(folder: string, exit: LastExit): Promise<void> {
  await atomicWriteFile(lastExitPath(folder), `${JSON.stringify(exit, null, 2)}\n`);
}

/** Stop reasons that mean the VM failed rather than was turned off. */
const failureReasons = new Set<string>([
  'reset-loop',
  'internal-error',
  'entry-failed',
  'unexpected-exit',
  'vmm-failure',
  'host-failure',
]);

/** Whether an ending was a crash (as opposed to a power-off, a halt, or a start that failed). */
export function isCrash(exit: LastExit): boolean {
  return exit.state === 'error' || failureReasons.has(exit.reason);
}

/**
 * Whether `pid` is a live VM host: the process exists, is not a zombie, and its command line
 * is a VM host's (so a recycled pid does not count).
 */
export function isHostProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: it exists but belongs to someone else, so it is not our host.
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself hold spaces or ')').
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // Empty while the process exits: the kernel frees its memory before it closes its files
    // (the socket), so it counts as alive until it is a zombie.
    return cmdline === '' || cmdline.includes('--vm-folder');
  } catch {
    // No /proc (or the process just went): trust kill(0).
    return true;
  }
}
