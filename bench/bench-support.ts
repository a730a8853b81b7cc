/**
 * Shared by the benchmarks: run a command, timestamp when given text first
 * appears on its stdout, stop it when the last one has, bounded by a timeout;
 * medians and ratio formatting. Timing is printed, never asserted.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repositoryRoot } from '../native/test/guests/run-nestbox.ts';

export interface TimedRun {
  /** Milliseconds from spawn to the first appearance of each mark; undefined if never seen. */
  marks: (number | undefined)[];
  /** Milliseconds from spawn to the first stdout byte. */
  firstByte: number | undefined;
  timedOut: boolean;
  stdout: string;
  exitStatus: number | null;
}

/** Spawns `command`, records when each of `marks` appears on stdout, kills it after the last. */
export function timeRun(
  command: string,
  args: readonly string[],
  marks: readonly string[],
  timeoutMs: number,
): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const child = spawn(command, [...args], {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const seen: (number | undefined)[] = marks.map(() => undefined);
    let firstByte: number | undefined;
    let stdout = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      const now = performance.now() - began;
      firstByte ??= now;
      stdout += chunk;
      marks.forEach((mark, index) => {
        if (seen[index] === undefined && stdout.includes(mark)) seen[index] = now;
      });
      if (seen.every((time) => time !== undefined)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (exitStatus) => {
      clearTimeout(timer);
      resolve({ marks: seen, firstByte, timedOut, stdout, exitStatus });
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

/** `nestbox run` as a user runs it: the built bundle when there is one, else from source. */
export function nestboxCommand(): { command: string; args: string[] } {
  const bundle = join(repositoryRoot, 'dist', 'cli', 'nestbox.mjs');
  return existsSync(bundle) && process.env.NESTBOX_BENCH_FROM_SOURCE !== '1'
    ? { command: process.execPath, args: [bundle] }
    : { command: process.execPath, args: ['--import', 'tsx', 'electron/cli/nestbox.ts'] };
}

export const QEMU = 'qemu-system-x86_64';
export const QEMU_ARGS = ['-accel', 'kvm', '-nographic', '-no-reboot', '-m', '256'];

export function hasQemu(): boolean {
  return ['/usr/bin', '/usr/local/bin'].some((dir) => existsSync(join(dir, QEMU)));
}

export function ratio(ours: number, peer: number | undefined): string {
  if (peer === undefined || !Number.isFinite(peer) || peer <= 0) return 'n/a';
  return `${(ours / peer).toFixed(2)}× QEMU's`;
}

/** Why a run produced no figure. */
export function failure(run: TimedRun, timeoutMs: number): string {
  return run.timedOut
    ? `did not finish in ${timeoutMs / 1000} s`
    : `exited (status ${run.exitStatus}) before printing what was expected: ${JSON.stringify(run.stdout.slice(-200))}`;
}

/** How many times faster `ours` is than `peer` (peer ÷ ours), e.g. "12.3×"; 'n/a' without both. */
export function speedup(peer: number | undefined, ours: number | undefined): string {
  if (peer === undefined || ours === undefined || !Number.isFinite(peer) || !(ours > 0)) {
    return 'n/a';
  }
  return `${(peer / ours).toFixed(1)}×`;
}

/** Whether `command --version` runs (an installed tool on PATH). */
export function hasCommand(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * QEMU driven over QMP on its stdin/stdout (`-qmp stdio`): one command at a time, each
 * resolved with its `return` value; asynchronous events are skipped. `hmp()` runs a
 * human-monitor command (savevm, loadvm, delvm) and rejects when it prints an error.
 */
export class QmpProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  #buffer = '';
  #stderr = '';
  #pending: { resolve: (value: unknown) => void; reject: (error: Error) => void } | undefined;
  #exited = false;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.#receive(chunk));
    child.stderr.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    child.on('close', (status) => {
      this.#exited = true;
      this.#pending?.reject(
        new Error(`${QEMU} exited (status ${status}): ${this.#stderr.trim() || 'no message'}`),
      );
      this.#pending = undefined;
    });
  }

  /** Starts `qemu-system-x86_64 <args> -qmp stdio` and negotiates capabilities. */
  static async start(args: readonly string[], timeoutMs: number): Promise<QmpProcess> {
    const child = spawn(QEMU, [...args, '-qmp', 'stdio'], {
      cwd: repositoryRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const qmp = new QmpProcess(child);
    try {
      await qmp.#expect(timeoutMs, 'the QMP greeting'); // {"QMP": {...}}
      await qmp.execute('qmp_capabilities', undefined, timeoutMs);
    } catch (error) {
      qmp.kill();
      throw error;
    }
    return qmp;
  }

  /** One QMP command; resolves with its `return`, rejects with its `error` or on timeout. */
  execute(command: string, args: object | undefined, timeoutMs: number): Promise<unknown> {
    const message = JSON.stringify(
      args ? { execute: command, arguments: args } : { execute: command },
    );
    const reply = this.#expect(timeoutMs, command);
    this.#child.stdin.write(`${message}\n`);
    return reply;
  }

  /** A human-monitor command; resolves with its output, rejects if it reports an error. */
  async hmp(commandLine: string, timeoutMs: number): Promise<string> {
    const output = await this.execute(
      'human-monitor-command',
      { 'command-line': commandLine },
      timeoutMs,
    );
    const text = typeof output === 'string' ? output : JSON.stringify(output);
    if (/error/i.test(text)) throw new Error(`${QEMU}: ${commandLine}: ${text.trim()}`);
    return text;
  }

  /** Asks QEMU to quit and waits (bounded) for it to exit; kills it otherwise. */
  async quit(timeoutMs = 10_000): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('close', () => resolve()));
    this.#child.stdin.write('{"execute":"quit"}\n');
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }

  #expect(timeoutMs: number, what: string): Promise<unknown> {
    if (this.#exited) return Promise.reject(new Error(`${QEMU} is not running`));
    if (this.#pending) return Promise.reject(new Error('one QMP command at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        reject(new Error(`${QEMU}: no answer to ${what} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#pending = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    let newline;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line === '') continue;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue; // not QMP (QEMU's own warnings)
      }
      const pending = this.#pending;
      if (!pending || 'event' in message) continue;
      this.#pending = undefined;
      if ('error' in message) {
        const error = message.error as { desc?: string } | undefined;
        pending.reject(new Error(`${QEMU}: ${error?.desc ?? JSON.stringify(message.error)}`));
      } else {
        pending.resolve('return' in message ? message.return : message.QMP);
      }
    }
  }
}
