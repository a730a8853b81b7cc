import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { atomicWriteFile } from '../atomic-write-file.ts';
import { makeTempDir } from '../library/test-fixtures.ts';
import { cloneSettings, defaultSettings } from './settings.ts';
import { SettingsError, SettingsStore, settingsFilePath } from './settings-store.ts';

const { dir, cleanup } = await makeTempDir('settings');
after(cleanup);

let counter = 0;
async function freshFile(content?: string): Promise<string> {
  counter += 1;
  const folder = path.join(dir, `case-${counter}`, 'nestbox');
  const file = path.join(folder, 'settings.json');
  if (content !== undefined) {
    await mkdir(folder, { recursive: true });
    await writeFile(file, content);
  }
  return file;
}

const fixedNow = () => new Date('2025-05-06T07:08:09.010Z');

test('where the file lives', () => {
  assert.equal(
    settingsFilePath({ XDG_CONFIG_HOME: '/cfg', HOME: '/home/u' }),
    '/cfg/nestbox/settings.json',
  );
  assert.equal(settingsFilePath({ HOME: '/home/u' }), '/home/u/.config/nestbox/settings.json');
  assert.equal(
    settingsFilePath({ NESTBOX_HOME: '/sandbox', XDG_CONFIG_HOME: '/cfg' }),
    '/sandbox/settings.json',
  );
});

test('no file: the defaults, no problem, nothing written', async () => {
  const file = await freshFile();
  const store = new SettingsStore({ filePath: file });
  assert.deepEqual(await store.load(), { settings: cloneSettings(defaultSettings) });
  await assert.rejects(readFile(file), { code: 'ENOENT' });
});

test('changes are validated, written atomically and read back', async () => {
  const file = await freshFile();
  const store = new SettingsStore({ filePath: file });
  await store.load();
  const updated = await store.update({
    theme: 'light',
    hotkeys: { releaseKeyboard: 'alt+ctrl+KeyG' },
  });
  assert.equal(updated.theme, 'light');
  assert.equal(updated.hotkeys.releaseKeyboard, 'Ctrl+Alt+KeyG');
  const onDisk = JSON.parse(await readFile(file, 'utf8'));
  assert.equal(onDisk.schemaVersion, 1);
  assert.equal(onDisk.theme, 'light');
  const again = new SettingsStore({ filePath: file });
  assert.deepEqual((await again.load()).settings, updated);

  const before = await readFile(file, 'utf8');
  await assert.rejects(
    store.update({ theme: 'neon' }),
    (error: unknown) =>
      error instanceof SettingsError &&
      error.code === 'invalid-request' &&
      /theme: must be "system", "light" or "dark", not "neon"/.test(error.message),
  );
  assert.equal(await readFile(file, 'utf8'), before);
  assert.equal(store.current().theme, 'light');
});

test('a file that is not JSON: defaults, a problem, the file kept as .broken-<time>', async () => {
  const broken = '{ "theme": "dark", ';
  const file = await freshFile(broken);
  const store = new SettingsStore({ filePath: file, now: fixedNow });
  const loaded = await store.load();
  assert.deepEqual(loaded.settings, cloneSettings(defaultSettings));
  const keptAs = `${file}.broken-2025-05-06T07-08-09-010Z`;
  assert.equal(loaded.problem?.keptAs, keptAs);
  assert.match(loaded.problem?.message ?? '', /is not valid JSON: line 1, column 20/);
  assert.match(
    loaded.problem?.message ?? '',
    /kept as .*settings\.json\.broken-2025-05-06T07-08-09-010Z/,
  );
  assert.equal(await readFile(keptAs, 'utf8'), broken);
  // A good file replaces it, so the problem is reported once.
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), defaultSettings);
  assert.equal((await new SettingsStore({ filePath: file }).load()).problem, undefined);
});

test('bad fields: the good ones are kept, the bad ones reset, the original kept', async () => {
  const original = JSON.stringify({ theme: 'dark', onQuitWithRunningVms: 'hibernate' });
  const file = await freshFile(original);
  const store = new SettingsStore({ filePath: file, now: fixedNow });
  const loaded = await store.load();
  assert.equal(loaded.settings.theme, 'dark');
  assert.equal(loaded.settings.onQuitWithRunningVms, 'keep-running');
  assert.deepEqual(
    loaded.problem?.issues.map((issue) => issue.path),
    ['onQuitWithRunningVms'],
  );
  assert.equal(await readFile(loaded.problem?.keptAs ?? '', 'utf8'), original);
  assert.equal(JSON.parse(await readFile(file, 'utf8')).theme, 'dark');
});

test('two broken files at the same moment are both kept', async () => {
  const file = await freshFile('1');
  await new SettingsStore({ filePath: file, now: fixedNow }).load();
  await writeFile(file, '2');
  await new SettingsStore({ filePath: file, now: fixedNow }).load();
  const names = (await readdir(path.dirname(file))).filter((name) => name.includes('.broken-'));
  assert.equal(names.length, 2);
  const contents = await Promise.all(
    names.map((name) => readFile(path.join(path.dirname(file), name), 'utf8')),
  );
  assert.deepEqual(contents.sort(), ['1', '2']);
});

test('an unreadable settings file is reported and never overwritten', async () => {
  const file = await freshFile();
  await mkdir(file, { recursive: true }); // a folder where the file should be: EISDIR
  const store = new SettingsStore({ filePath: file });
  const loaded = await store.load();
  assert.deepEqual(loaded.settings, cloneSettings(defaultSettings));
  assert.match(loaded.problem?.message ?? '', /cannot be read/);
  await assert.rejects(
    store.update({ theme: 'dark' }),
    (error: unknown) => error instanceof SettingsError && error.code === 'unwritable',
  );
});

test('concurrent changes are applied one after another', async () => {
  const file = await freshFile();
  let writing = 0;
  let most = 0;
  const store = new SettingsStore({
    filePath: file,
    writeFileAtomic: async (target, data) => {
      writing += 1;
      most = Math.max(most, writing);
      try {
        await atomicWriteFile(target, data);
      } finally {
        writing -= 1;
      }
    },
  });
  await Promise.all([
    store.update({ theme: 'dark' }),
    store.update({ confirmations: { deleteVm: false } }),
    store.update({ onQuitWithRunningVms: 'power-off' }),
  ]);
  assert.equal(most, 1);
  const onDisk = JSON.parse(await readFile(file, 'utf8'));
  assert.equal(onDisk.theme, 'dark');
  assert.equal(onDisk.confirmations.deleteVm, false);
  assert.equal(onDisk.onQuitWithRunningVms, 'power-off');
});

test('a failed write keeps the old file and the old settings', async () => {
  const file = await freshFile(JSON.stringify({ theme: 'light' }));
  let fail = false;
  const store = new SettingsStore({
    filePath: file,
    writeFileAtomic: async (target, data) => {
      if (fail) throw new Error('disk full');
      await atomicWriteFile(target, data);
    },
  });
  await store.load();
  fail = true;
  await assert.rejects(store.update({ theme: 'dark' }), /disk full/);
  assert.equal(store.current().theme, 'light');
  assert.equal(JSON.parse(await readFile(file, 'utf8')).theme, 'light');
});
