/**
 * Runs the built `nestbox serve` exactly as a user would (`node dist/cli/nestbox.mjs serve
 * --port 0`), with its own runtime directory, and reads the address it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { cliPath, repoRoot } from './paths.ts';

export interface ServeProcess {
  /** The printed address, token included. */
  url: string;
  /** The same address without the token. */
  origin: string;
  token: string;
  /** Where this instance wrote its token. */
  tokenFile: string;
  /** Everything written to stderr so far, for failure messages. */
  stderr(): string;
  /** SIGTERM, then waits; resolves with the exit code (0 for a graceful stop). */
  stop(): Promise<number | null>;
}

const announcement =
  /^Nestbox is serving on (http:\/\/127\.0\.0\.1:\d+)\/\?token=([A-Za-z0-9_-]+)$/;

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface ServeOptions {
  /** Added to the environment (NESTBOX_HOME for a library of its own, NESTBOX_VM_HOST…). */
  env?: Readonly<Record<string, string>>;
  timeoutMs?: number;
}

export async function startServeProcess(options: ServeOptions = {}): Promise<ServeProcess> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  await access(cliPath).catch(() => {
    throw new Error(`${cliPath} is missing: run \`npm run build\` before the e2e tests`);
  });
  const runtimeDir = await mkdtemp(path.join(os.tmpdir(), 'nestbox-e2e-runtime-'));
  const child = spawn(process.execPath, [cliPath, 'serve', '--port', '0'], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env, XDG_RUNTIME_DIR: runtimeDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const stop = async () => {
    child.kill('SIGTERM');
    const code = await exited(child);
    await rm(runtimeDir, { recursive: true, force: true });
    return code;
  };

  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nestbox serve printed no address in ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (!child.stdout) throw new Error('spawned without a stdout pipe');
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        const found = announcement.exec(line);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      });
      void exited(child).then((code) => {
        clearTimeout(timer);
        reject(new Error(`nestbox serve exited (${code}) before serving:\n${stderr}`));
      });
    });
    const [, origin = '', token = ''] = match;
    return {
      url: `${origin}/?token=${token}`,
      origin,
      token,
      tokenFile: path.join(runtimeDir, 'nestbox', 'serve-token'),
      stderr: () => stderr,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
