import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { addonCandidates, loadNativeAddon } from './load-addon.ts';

test('NESTBOX_ADDON is tried first', () => {
  const candidates = addonCandidates({ NESTBOX_ADDON: '/opt/custom/nestbox.node' }, '/x/y/z');
  assert.equal(candidates[0], '/opt/custom/nestbox.node');
});

test('candidates cover the source, dist and bundle layouts', () => {
  const fromSource = addonCandidates({}, '/repo/electron/services/native');
  assert.ok(fromSource.includes('/repo/native/build/Release/nestbox.node'));
  assert.ok(fromSource.includes('/repo/dist/native/nestbox.node'));

  const fromCliBundle = addonCandidates({}, '/repo/dist/cli');
  assert.ok(fromCliBundle.includes('/repo/dist/native/nestbox.node'));
});

test('a packaged app looks in app.asar.unpacked before app.asar', () => {
  const candidates = addonCandidates({}, '/opt/Nestbox/resources/app.asar/dist/electron');
  const unpacked = candidates.indexOf(
    '/opt/Nestbox/resources/app.asar.unpacked/dist/native/nestbox.node',
  );
  const packed = candidates.indexOf('/opt/Nestbox/resources/app.asar/dist/native/nestbox.node');
  assert.ok(unpacked >= 0, `unpacked path missing from ${candidates.join(', ')}`);
  assert.ok(packed > unpacked);
});

test('when nothing loads, the error lists every path tried and why, and how to fix it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestbox-loader-'));
  try {
    const missing = join(dir, 'missing.node');
    const broken = join(dir, 'broken.node');
    writeFileSync(broken, 'this is not a shared object');
    const layoutDir = join(dir, 'a', 'b', 'c');

    assert.throws(
      () => loadNativeAddon({ NESTBOX_ADDON: missing }, layoutDir),
      (error: Error) => {
        assert.match(error.message, /could not be loaded/);
        assert.ok(error.message.includes(`${missing}: not found`), error.message);
        for (const candidate of addonCandidates({}, layoutDir)) {
          assert.ok(error.message.includes(candidate), `${candidate} not listed`);
        }
        assert.match(error.message, /npm run build:native/);
        return true;
      },
    );

    assert.throws(
      () => loadNativeAddon({ NESTBOX_ADDON: broken }, layoutDir),
      (error: Error) => {
        assert.ok(error.message.includes(`${broken}: `), error.message);
        assert.ok(!error.message.includes(`${broken}: not found`), 'it exists but failed to load');
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the built addon loads from the source layout', () => {
  const addon = loadNativeAddon({});
  assert.equal(typeof addon.probeKvm, 'function');
  assert.equal(typeof addon.Machine, 'function');
  assert.match(addon.version, /^\d+\.\d+\.\d+/);
});
