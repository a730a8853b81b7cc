/**
 * For tests: runs `nestbox ARGS…` in this process, as the executable does (the real command
 * list and entry), with its output captured instead of printed.
 */
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
