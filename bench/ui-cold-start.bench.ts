/**
 * UI cold start: from spawning `nestbox serve --port 0` (the built CLI, as a user runs it, with
 * an empty library of its own) to the library being interactive in Debian's Chromium — the
 * "Library" heading visible and the empty library's "Create a VM" action visible and enabled.
 * Median of several runs, each in a fresh browser context (no cache, no storage); the browser
 * itself is launched once beforehand, as a user's browser is already open.
 *
 * Peer, measured the same way in the same run: a Node process serving a minimal static page
 * (written to a temporary folder: the same heading and action, no scripts) with Node's http
 * module on 127.0.0.1 — the floor set by starting Node, listening, and Chromium loading and
 * painting a page. Each figure is split into "address printed" (process start to listening)
 * and "page" (navigation to interactive).
 *
 * Timing is printed, never asserted. Needs `npm run build` and /usr/bin/chromium.
 * Run: node --import tsx bench/ui-cold-start.bench.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser } from 'playwright-core';
import { launchChromium, chromiumPath } from '../e2e/support/browser.ts';
import { cliPath, repoRoot } from '../e2e/support/paths.ts';
import { median } from './bench-support.ts';

const RUNS = 5;
const TIMEOUT_MS = 30_000;

const announcement = /Nestbox is serving on (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/;

/** The peer: the same heading and action as the empty library, as plain HTML. */
const STATIC_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Library · Nestbox</title></head>
<body><main><h1>Library</h1><h2>No virtual machines yet</h2>
<a href="#/new-vm">Create a VM</a> <button type="button">Try the demo VM</button></main></body></html>
`;

/** A Node http server for the static page, printing its address as `nestbox serve` does. */
const STATIC_SERVER = `
const { createServer } = require('node:http');
const { readFileSync } = require('node:fs');
const page = readFileSync(process.argv[1]);
const server = createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(page);
});
server.listen(0, '127.0.0.1', () => {
  console.log('Nestbox is serving on http://127.0.0.1:' + server.address().port + '/?token=static');
});
`;

interface Sample {
  /** Spawn to the address on stdout. */
  listening: number;
  /** Spawn to the library interactive. */
  interactive: number;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Spawns a server, waits for its address, loads it in a fresh context until interactive. */
async function measureOnce(
  browser: Browser,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<Sample> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const began = performance.now();
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no address printed')), TIMEOUT_MS);
      if (!child.stdout) throw new Error('spawned without a stdout pipe');
      createInterface({ input: child.stdout }).on('line', (line) => {
        const found = announcement.exec(line);
        if (found?.[1]) {
          clearTimeout(timer);
          resolve(found[1]);
        }
      });
      void exited(child).then(() => {
        clearTimeout(timer);
        reject(new Error(`server exited before serving:\n${stderr}`));
      });
    });
    const listening = performance.now() - began;
    await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT_MS });
    const heading = page.getByRole('heading', { name: 'Library', exact: true, level: 1 });
    const create = page.getByRole('link', { name: 'Create a VM' });
    await heading.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    await create.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
    // A link has no disabled state of its own; the app would mark a dead one aria-disabled.
    await page.waitForFunction(
      () => {
        const link = Array.from(document.querySelectorAll('a')).find(
          (a) => a.textContent?.trim() === 'Create a VM',
        );
        return link !== undefined && link.getAttribute('aria-disabled') !== 'true';
      },
      undefined,
      { timeout: TIMEOUT_MS },
    );
    return { listening, interactive: performance.now() - began };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
    await context.close();
  }
}

async function measure(
  label: string,
  browser: Browser,
  start: () => Promise<{
    command: string;
    args: string[];
    env: NodeJS.ProcessEnv;
    cleanup(): Promise<void>;
  }>,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; ++i) {
    const run = await start();
    try {
      samples.push(await measureOnce(browser, run.command, run.args, run.env));
    } catch (error) {
      console.log(`${label}: run ${i + 1} failed: ${(error as Error).message}`);
    } finally {
      await run.cleanup();
    }
  }
  return samples;
}

function describe(label: string, samples: readonly Sample[]): number | undefined {
  if (samples.length === 0) {
    console.log(`${label}: no successful run`);
    return undefined;
  }
  const interactive = median(samples.map((s) => s.interactive));
  const listening = median(samples.map((s) => s.listening));
  console.log(
    `${label}: ${interactive.toFixed(0)} ms to interactive (median of ${samples.length}; ` +
      `address printed ${listening.toFixed(0)} ms, page ${median(samples.map((s) => s.interactive - s.listening)).toFixed(0)} ms; ` +
      `runs ${samples.map((s) => s.interactive.toFixed(0)).join(', ')} ms)`,
  );
  return interactive;
}

if (!existsSync(cliPath)) {
  console.log(`ui cold start: ${cliPath} is missing: run \`npm run build\` first`);
} else if (!existsSync(chromiumPath)) {
  console.log(`ui cold start: ${chromiumPath} is missing (apt-get install chromium)`);
} else {
  const browser = await launchChromium();
  try {
    const nestbox = await measure('nestbox serve', browser, async () => {
      const home = await mkdtemp(path.join(os.tmpdir(), 'nestbox-bench-home-'));
      const runtime = await mkdtemp(path.join(os.tmpdir(), 'nestbox-bench-runtime-'));
      return {
        command: process.execPath,
        args: [cliPath, 'serve', '--port', '0'],
        env: { ...process.env, NESTBOX_HOME: home, XDG_RUNTIME_DIR: runtime },
        cleanup: async () => {
          await rm(home, { recursive: true, force: true });
          await rm(runtime, { recursive: true, force: true });
        },
      };
    });
    const peer = await measure('static page (node:http)', browser, async () => {
      const folder = await mkdtemp(path.join(os.tmpdir(), 'nestbox-bench-static-'));
      const page = path.join(folder, 'index.html');
      await writeFile(page, STATIC_PAGE);
      return {
        command: process.execPath,
        args: ['-e', STATIC_SERVER, page],
        env: process.env,
        cleanup: () => rm(folder, { recursive: true, force: true }),
      };
    });
    const ours = describe('nestbox serve → interactive library', nestbox);
    const floor = describe('node:http static page → interactive', peer);
    console.log(
      ours !== undefined && floor !== undefined
        ? `ui cold start ratio: nestbox serve takes ${(ours / floor).toFixed(2)}× the static page's time`
        : 'ui cold start ratio: n/a',
    );
  } finally {
    await browser.close();
  }
}
