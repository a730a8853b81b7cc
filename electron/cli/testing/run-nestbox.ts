/**
 * For tests: runs `nestbox ARGS…` in this process, as the executable does (the real command
 * list and entry), with its output captured instead of printed.
 */
import assert from 'node:assert/strict';
import { appRoot } from '../app-root.ts';
import { runCli } from '../cli.ts';
import { commands } from '../commands/index.ts';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export async function runNestbox(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const status = await runCli(args, commands, {
    stdout: (line) => stdout.push(`${line}\n`),
    stderr: (line) => stderr.push(`${line}\n`),
    env,
    appRoot,
    appVersion: '0.0.0-test',
    shutdown: new AbortController().signal,
  });
  return { status, stdout: stdout.join(''), stderr: stderr.join('') };
}

/** `nestbox ARGS…`, which must exit 0 (the failure message carries its stderr). */
export async function runNestboxOk(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  const run = await runNestbox(env, args);
  assert.equal(run.status, 0, `nestbox ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return run;
}

/** `nestbox ARGS… --json`, which must exit 0 and print JSON. */
export async function runNestboxJson<T>(env: NodeJS.ProcessEnv, args: string[]): Promise<T> {
  const run = await runNestboxOk(env, [...args, '--json']);
  try {
    return JSON.parse(run.stdout) as T;
  } catch (error) {
    throw new Error(`nestbox ${args.join(' ')} --json printed no JSON: ${run.stdout}`, {
      cause: error,
    });
  }
}
