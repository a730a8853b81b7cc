import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mainWindowOptions, minimumWindowSize } from './window-options.ts';

const options = mainWindowOptions({
  preloadPath: '/opt/Nestbox/resources/app.asar/dist/electron/preload.cjs',
  bounds: { x: 10, y: 20, width: 1000, height: 700 },
});

test('the renderer is isolated and sandboxed, without Node', () => {
  const prefs = options.webPreferences;
  assert.ok(prefs);
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.nodeIntegrationInWorker, false);
  assert.equal(prefs.nodeIntegrationInSubFrames, false);
  assert.equal(prefs.webSecurity, true);
  assert.equal(prefs.allowRunningInsecureContent, false);
  assert.equal(prefs.webviewTag, false);
  assert.equal(prefs.experimentalFeatures, false);
});

test('loads our preload and nothing else', () => {
  assert.equal(
    options.webPreferences?.preload,
    '/opt/Nestbox/resources/app.asar/dist/electron/preload.cjs',
  );
});

test('uses the restored bounds and starts hidden until painted', () => {
  assert.deepEqual(
    { x: options.x, y: options.y, width: options.width, height: options.height },
    { x: 10, y: 20, width: 1000, height: 700 },
  );
  assert.equal(options.show, false);
  assert.equal(options.minWidth, minimumWindowSize.width);
  assert.equal(options.minHeight, minimumWindowSize.height);
});
