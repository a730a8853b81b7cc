/**
 * Runs the `nestbox` CLI from source as a child process (`node --import tsx
 * electron/cli/nestbox.ts …`), the way a user would, and collects what it
 * printed. For end-to-end tests of `nestbox run` and for benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface NestboxResult {
  /** The exit status, or null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface NestboxOptions {
  /** Kill the process (SIGKILL) after this long; the test then fails on its output. */
  killAfterMs?: number;
  /** Written to stdin (then left open unless closeStdin). */
  input?: string;
  /** Close stdin after the input (default true). */
  closeStdin?: boolean;
  /** Called with stdout so far after each chunk; return true to send SIGTERM. */
  onStdout?: (stdoutSoFar: string, child: ChildProcess) => void;
  /** Extra environment variables, on top of this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (needs root), e.g. 65534 "nobody". */
  user?: { uid: number; gid: number };
}

export function spawnNestbox(args: readonly string[], options: NestboxOptions = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'electron/cli/nestbox.ts', ...args], {
    cwd: repositoryRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.env !== undefined ? { env: { ...process.env, ...options.env } } : {}),
    ...(options.user !== undefined ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  const result = new Promise<NestboxResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const killer =
      options.killAfterMs !== undefined
        ? setTimeout(() => child.kill('SIGKILL'), options.killAfterMs)
        : undefined;
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (killer) clearTimeout(killer);
      resolve({ status, signal, stdout, stderr });
    });
  });
  child.stdin.on('error', () => undefined); // the child may exit before reading it all
  if (options.input !== undefined) child.stdin.write(options.input);
  if (options.closeStdin ?? true) child.stdin.end();
  return { child, result };
}

export function runNestbox(args: readonly string[], options: NestboxOptions = {}) {
  return spawnNestbox(args, options).result;
}
