import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { CliContext } from '../command.ts';
import { serveCommand } from './serve.ts';

const base = await mkdtemp(path.join(os.tmpdir(), 'nestbox-serve-command-'));
after(() => rm(base, { recursive: true, force: true }));

function context(shutdown: AbortSignal, lines: { stdout: string[]; stderr: string[] }): CliContext {
  return {
    stdout: (line) => lines.stdout.push(line),
    stderr: (line) => lines.stderr.push(line),
    env: { XDG_RUNTIME_DIR: path.join(base, 'runtime'), HOME: base },
    appRoot: base,
    appVersion: '0.1.0',
    shutdown,
  };
}

test('rejects a port that is not 0–65535 as a usage error', async () => {
  for (const port of ['abc', '-1', '65536', '1.5', '']) {
    await assert.rejects(
      serveCommand.run(
        ['--port', port],
        context(new AbortController().signal, { stdout: [], stderr: [] }),
      ),
      { name: 'UsageError' },
      port,
    );
  }
});

test('serves until shut down, printing the URL, then removes its token file', async () => {
  await mkdir(path.join(base, 'dist', 'renderer'), { recursive: true });
  await writeFile(path.join(base, 'dist', 'renderer', 'index.html'), '<h1>This computer</h1>');
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const shutdown = new AbortController();
  const finished = serveCommand.run(['--port', '0'], context(shutdown.signal, lines));

  while (lines.stdout.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const match = /^Nestbox is serving on (http:\/\/127\.0\.0\.1:\d+\/\?token=([\w-]+))$/.exec(
    lines.stdout[0] ?? '',
  );
  assert.ok(match, lines.stdout[0]);
  const [, url = '', token = ''] = match;
  const tokenFile = path.join(base, 'runtime', 'nestbox', 'serve-token');
  assert.equal(await readFile(tokenFile, 'utf8'), `${token}\n`);
  assert.match(await (await fetch(url)).text(), /This computer/);

  shutdown.abort('SIGTERM');
  assert.equal(await finished, 0);
  await assert.rejects(stat(tokenFile), { code: 'ENOENT' });
  await assert.rejects(fetch(url));
});

test('warns when the UI has not been built, and still serves the API', async () => {
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const shutdown = new AbortController();
  const emptyRoot = await mkdtemp(path.join(base, 'unbuilt-'));
  const finished = serveCommand.run([], { ...context(shutdown.signal, lines), appRoot: emptyRoot });
  while (lines.stdout.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.match(lines.stderr.join('\n'), /no UI build .*npm run build/);
  shutdown.abort();
  assert.equal(await finished, 0);
});
