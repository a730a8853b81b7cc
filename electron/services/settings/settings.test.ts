import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIssues } from '../library/validation.ts';
import {
  applySettingsPatch,
  cloneSettings,
  defaultSettings,
  parseHotkey,
  readSettings,
} from './settings.ts';

test('the defaults', () => {
  assert.deepEqual(defaultSettings, {
    schemaVersion: 1,
    vmFolder: null,
    theme: 'system',
    hotkeys: { releaseKeyboard: 'Ctrl+Alt' },
    confirmations: { deleteVm: true, revertSnapshot: true },
    onQuitWithRunningVms: 'keep-running',
  });
  assert.ok(Object.isFrozen(defaultSettings.hotkeys));
});

test('an empty or older file takes the defaults silently', () => {
  assert.deepEqual(readSettings({}), { settings: cloneSettings(defaultSettings), issues: [] });
  const read = readSettings({ theme: 'dark', confirmations: { deleteVm: false } });
  assert.deepEqual(read.issues, []);
  assert.equal(read.settings.theme, 'dark');
  assert.deepEqual(read.settings.confirmations, { deleteVm: false, revertSnapshot: true });
});

test('bad fields fall back one by one and are reported by path', () => {
  const read = readSettings({
    schemaVersion: 1,
    vmFolder: 'relative/vms',
    theme: 'purple',
    hotkeys: { releaseKeyboard: 'Ctrl' },
    confirmations: { deleteVm: 'no', revertSnapshot: false },
    onQuitWithRunningVms: 'suspend',
    fontSize: 12,
  });
  assert.deepEqual(read.settings, {
    ...cloneSettings(defaultSettings),
    confirmations: { deleteVm: true, revertSnapshot: false },
    onQuitWithRunningVms: 'suspend',
  });
  assert.deepEqual(
    read.issues.map((issue) => issue.path),
    ['fontSize', 'vmFolder', 'theme', 'hotkeys.releaseKeyboard', 'confirmations.deleteVm'],
  );
  const text = formatIssues(read.issues);
  assert.match(text, /^theme: must be "system", "light" or "dark", not "purple"$/m);
  assert.match(text, /^vmFolder: must be an absolute path/m);
  assert.match(text, /^hotkeys\.releaseKeyboard: needs a second modifier or a key/m);
  assert.deepEqual(readSettings('dark').issues, [
    { path: '', message: 'must be an object, not "dark"' },
  ]);
});

test('hotkeys are normalized and checked', () => {
  assert.deepEqual(parseHotkey('alt + ctrl'), { ok: true, value: 'Ctrl+Alt' });
  assert.deepEqual(parseHotkey('Control+Shift+KeyG'), { ok: true, value: 'Ctrl+Shift+KeyG' });
  assert.deepEqual(parseHotkey('Super+F12'), { ok: true, value: 'Super+F12' });
  for (const bad of ['', 'Ctrl+', 'KeyG', 'Ctrl', 'Ctrl+KeyG+KeyH', 'Ctrl+Banana']) {
    assert.equal(parseHotkey(bad).ok, false, bad);
  }
});

test('a change is checked strictly and merged into nested groups', () => {
  const current = cloneSettings(defaultSettings);
  const changed = applySettingsPatch(current, {
    theme: 'dark',
    confirmations: { revertSnapshot: false },
    vmFolder: '/mnt/vms/',
  });
  assert.ok(changed.ok);
  assert.equal(changed.value.theme, 'dark');
  assert.equal(changed.value.vmFolder, '/mnt/vms/');
  assert.deepEqual(changed.value.confirmations, { deleteVm: true, revertSnapshot: false });

  const refused = applySettingsPatch(current, {
    theme: 'dark',
    onQuitWithRunningVms: 'explode',
    schemaVersion: 2,
  });
  assert.ok(!refused.ok);
  assert.deepEqual(
    refused.issues.map((issue) => issue.path),
    ['schemaVersion', 'onQuitWithRunningVms'],
  );
  assert.equal(applySettingsPatch(current, null).ok, false);
  assert.equal(applySettingsPatch(current, { hotkeys: 'Ctrl+Alt' }).ok, false);
});
