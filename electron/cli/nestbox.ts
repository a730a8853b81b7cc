/**
 * The `nestbox` executable (bundled to dist/cli/nestbox.mjs). Owns the process: signals, exit
 * code, real stdout/stderr; everything else is in cli.ts.
 */
import { appRoot, readAppVersion } from './app-root.ts';
import { runCli } from './cli.ts';
import { commands } from './commands/index.ts';

const shutdown = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second signal means the graceful stop is stuck: leave now.
    if (shutdown.signal.aborted) process.exit(1);
    shutdown.abort(signal);
  });
}

process.exitCode = await runCli(process.argv.slice(2), commands, {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  appRoot,
  appVersion: readAppVersion(),
  shutdown: shutdown.signal,
});
