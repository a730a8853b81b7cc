import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import {
  defaultWindowState,
  loadWindowState,
  sanitizeWindowState,
  saveWindowState,
  type Rectangle,
} from './window-state.ts';

const oneMonitor: Rectangle[] = [{ x: 0, y: 0, width: 1920, height: 1080 }];
const directory = await mkdtemp(path.join(os.tmpdir(), 'nestbox-window-state-'));
after(() => rm(directory, { recursive: true, force: true }));

test('round-trips bounds and the maximized flag through the file', async () => {
  const file = path.join(directory, 'round-trip.json');
  const state = { bounds: { x: 100, y: 50, width: 1280, height: 900 }, maximized: true };
  await saveWindowState(file, state);
  assert.deepEqual(await loadWindowState(file, oneMonitor), state);
  // Atomic write: no temp file is left beside it.
  assert.deepEqual(await readdir(directory), ['round-trip.json']);
});

test('a missing or corrupt file gives the default window', async () => {
  assert.deepEqual(
    await loadWindowState(path.join(directory, 'absent.json'), oneMonitor),
    defaultWindowState,
  );
  const corrupt = path.join(directory, 'corrupt.json');
  await writeFile(corrupt, '{"version":1,"bounds":');
  assert.deepEqual(await loadWindowState(corrupt, oneMonitor), defaultWindowState);
  assert.deepEqual(
    sanitizeWindowState({ version: 99, bounds: {} }, oneMonitor),
    defaultWindowState,
  );
  assert.deepEqual(
    sanitizeWindowState({ version: 1, bounds: { width: 'wide', height: 800 } }, oneMonitor),
    defaultWindowState,
  );
});

test('a position on a monitor that is gone is dropped, keeping the size', () => {
  const state = sanitizeWindowState(
    { version: 1, bounds: { x: 3000, y: 200, width: 1000, height: 700 }, maximized: false },
    oneMonitor,
  );
  assert.deepEqual(state.bounds, { width: 1000, height: 700 });
});

test('a size larger than any monitor or below the minimum is clamped', () => {
  const big = sanitizeWindowState(
    { version: 1, bounds: { x: 0, y: 0, width: 9000, height: 9000 } },
    oneMonitor,
  );
  assert.deepEqual(big.bounds, { x: 0, y: 0, width: 1920, height: 1080 });
  const tiny = sanitizeWindowState({ version: 1, bounds: { width: 10, height: 10 } }, oneMonitor);
  assert.deepEqual(tiny.bounds, { width: 800, height: 560 });
});

test('the file holds a versioned JSON document', async () => {
  const file = path.join(directory, 'format.json');
  await saveWindowState(file, defaultWindowState);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { version: 1, ...defaultWindowState });
});
