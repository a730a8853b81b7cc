/**
 * Shared by the benchmarks: run a command, timestamp when given text first
 * appears on its stdout, stop it when the last one has, bounded by a timeout;
 * medians and ratio formatting. Timing is printed, never asserted.
 */
import { spawn } from 'node:child_process';
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
