/**
 * What every `nestbox` subcommand implements. Each lives in its own file under commands/ and
 * is listed in commands/index.ts; `run`, `create`, `list`… are added the same way.
 */

/** The documented exit codes; scripts may rely on them. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** A time limit ran out (as `timeout(1)` reports it). */
  timeout: 124,
  /** Stopped by SIGINT / SIGTERM (128 + the signal number, as shells report it). */
  interrupted: 130,
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Bad arguments: the message is shown with a pointer to --help, and the exit code is 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliContext {
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
  /** The checkout or installed app: package.json and dist/ are inside it. */
  appRoot: string;
  appVersion: string;
  /** Aborted on SIGINT/SIGTERM; long-running commands stop gracefully when it fires. */
  shutdown: AbortSignal;
}

export interface Command {
  name: string;
  /** One line for `nestbox --help`. */
  summary: string;
  /** Full usage for `nestbox <command> --help`. */
  usage: string;
  run(args: readonly string[], context: CliContext): Promise<ExitCode>;
}
