/**
 * `nestbox serve`: the UI and API over HTTP and WebSocket on loopback, until SIGINT or SIGTERM.
 * The library, settings and VM hosts are the ones this command's environment names.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import { createAppServices } from '../../services/request-handlers.ts';
import { startServeServer } from '../../serve/serve-server.ts';
import { serveTokenPath } from '../../serve/token-file.ts';
import { ExitCode, UsageError, type Command } from '../command.ts';
import { parseOptions } from '../parse-options.ts';

function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new UsageError(
      `--port must be a number from 0 to 65535 (0 picks a free port), not "${value}"`,
    );
  }
  return port;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Serve the Nestbox UI and API on http://127.0.0.1 with a one-time access token',
  usage: [
    'Usage: nestbox serve [--port N]',
    '',
    'Serves the Nestbox UI and its API (HTTP requests, WebSocket events and VM consoles and',
    'screens) on 127.0.0.1 only, and prints the address to open, access token included.',
    'Reach it from another machine through an SSH tunnel, e.g.',
    '  ssh -L 8080:127.0.0.1:N host   then open http://localhost:8080/?token=…',
    '',
    'Options:',
    '  --port N   listen on port N (default 0: a free port)',
    '  --help     show this help',
    '',
    'The token is also written to $XDG_RUNTIME_DIR/nestbox/serve-token (mode 0600).',
    'Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.',
  ].join('\n'),

  async run(args, context) {
    const { values } = parseOptions(args, {
      port: { type: 'string' },
      help: { type: 'boolean' },
    });
    if (values.help) {
      context.stdout(this.usage);
      return ExitCode.ok;
    }
    const port = parsePort(values.port);
    const rendererDir = path.join(context.appRoot, 'dist', 'renderer');
    if (!existsSync(path.join(rendererDir, 'index.html'))) {
      context.stderr(
        `nestbox serve: warning: no UI build in ${rendererDir}; run \`npm run build\`. The API still works.`,
      );
    }

    const services = createAppServices({
      appVersion: context.appVersion,
      loadNativeAddon: () => loadNativeAddon(context.env),
      env: context.env,
    });
    let server;
    try {
      server = await startServeServer({
        handlers: services.handlers,
        subscriptions: services.subscriptions,
        rendererDir,
        port,
        tokenFilePath: serveTokenPath(context.env),
      });
    } catch (error) {
      services.close();
      throw error;
    }
    context.stdout(`Nestbox is serving on ${server.url}`);

    if (!context.shutdown.aborted) {
      await new Promise((resolve) =>
        context.shutdown.addEventListener('abort', resolve, { once: true }),
      );
    }
    await server.close();
    // VMs keep running: only this server's connections to their hosts end.
    services.close();
    context.stderr('nestbox serve: stopped');
    return ExitCode.ok;
  },
};
