import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { findExecutable, moveToTrash } from './trash.ts';
import { makeTempDir } from './test-fixtures.ts';

const { dir, cleanup } = await makeTempDir('trash');
after(cleanup);

let counter = 0;
/** A library root with one VM folder holding a file. */
async function setup() {
  counter += 1;
  const root = path.join(dir, `case-${counter}`, 'vms');
  const folder = path.join(root, 'Alpine');
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'vm.json'), '{"precious": true}');
  return { root, folder, base: path.dirname(root) };
}

async function fakeGio(base: string, script: string): Promise<string> {
  const bin = path.join(base, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'gio'), `#!/bin/sh\n${script}\n`);
  await chmod(path.join(bin, 'gio'), 0o755);
  // Our fake first; the system's folders for the shell tools the script uses.
  return `${bin}${path.delimiter}/usr/bin${path.delimiter}/bin`;
}

test('uses `gio trash` when gio is on PATH', async () => {
  const { root, folder, base } = await setup();
  const log = path.join(base, 'gio.log');
  const bin = await fakeGio(base, `echo "$@" > '${log}'\nmv "$3" '${base}/trashed'`);
  const outcome = await moveToTrash(folder, { libraryRoot: root, env: { PATH: bin } });
  assert.deepEqual(outcome, { method: 'desktop-trash' });
  assert.equal((await readFile(log, 'utf8')).trim(), `trash -- ${folder}`);
  assert.equal(await readFile(path.join(base, 'trashed', 'vm.json'), 'utf8'), '{"precious": true}');
});

test('falls back to the library .trash when gio fails, keeping every file', async () => {
  const { root, folder, base } = await setup();
  const bin = await fakeGio(base, 'echo "no trash here" >&2; exit 1');
  const outcome = await moveToTrash(folder, {
    libraryRoot: root,
    env: { PATH: bin },
    now: () => new Date('2025-02-03T04:05:06.007Z'),
  });
  assert.equal(outcome.method, 'library-trash');
  assert.equal(outcome.location, path.join(root, '.trash', 'Alpine 2025-02-03T04-05-06-007Z'));
  assert.equal(
    await readFile(path.join(outcome.location, 'vm.json'), 'utf8'),
    '{"precious": true}',
  );
  assert.deepEqual(await readdir(root), ['.trash']);
});

test('without gio, the library .trash; two deletions of one name do not collide', async () => {
  const { root, folder } = await setup();
  const now = () => new Date('2025-02-03T04:05:06.007Z');
  const first = await moveToTrash(folder, { libraryRoot: root, env: { PATH: '' }, now });
  await mkdir(folder);
  await writeFile(path.join(folder, 'vm.json'), 'second');
  const second = await moveToTrash(folder, { libraryRoot: root, env: { PATH: '' }, now });
  assert.notEqual(first.location, second.location);
  assert.equal(await readFile(path.join(second.location ?? '', 'vm.json'), 'utf8'), 'second');
  assert.equal((await readdir(path.join(root, '.trash'))).length, 2);
});

test('the real gio moves the folder to the desktop trash', async () => {
  const gio = await findExecutable('gio', process.env['PATH'] ?? '');
  assert.ok(gio, 'this test needs gio (Debian package libglib2.0-bin; scripts/setup-system.sh)');
  const { root, folder, base } = await setup();
  // A home of its own, so the test never touches the user's trash.
  const home = path.join(base, 'home');
  await mkdir(home);
  const env = { PATH: process.env['PATH'], HOME: home, XDG_DATA_HOME: path.join(home, 'data') };
  const outcome = await moveToTrash(folder, { libraryRoot: root, env });
  assert.equal(outcome.method, 'desktop-trash');
  const trashed = path.join(home, 'data', 'Trash', 'files', 'Alpine', 'vm.json');
  assert.equal(await readFile(trashed, 'utf8'), '{"precious": true}');
  assert.deepEqual(await readdir(root), []);
});
