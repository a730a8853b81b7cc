import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { removeTokenFile, serveTokenPath, writeTokenFile } from './token-file.ts';

const base = await mkdtemp(path.join(os.tmpdir(), 'nestbox-token-'));
after(() => rm(base, { recursive: true, force: true }));

test('lives in $XDG_RUNTIME_DIR/nestbox, else ~/.cache/nestbox', () => {
  assert.equal(
    serveTokenPath({ XDG_RUNTIME_DIR: '/run/user/1000', HOME: '/home/u' }),
    '/run/user/1000/nestbox/serve-token',
  );
  assert.equal(serveTokenPath({ HOME: '/home/u' }), '/home/u/.cache/nestbox/serve-token');
  // The XDG spec: relative paths are invalid and ignored.
  assert.equal(
    serveTokenPath({ XDG_RUNTIME_DIR: 'run', HOME: '/home/u' }),
    '/home/u/.cache/nestbox/serve-token',
  );
});

test('writes 0600 in a 0700 directory, tightening an existing loose directory', async () => {
  const directory = path.join(base, 'loose', 'nestbox');
  await mkdir(directory, { recursive: true, mode: 0o755 });
  await chmod(directory, 0o755);
  const file = path.join(directory, 'serve-token');
  await writeTokenFile(file, 'secret-token');
  assert.equal(await readFile(file, 'utf8'), 'secret-token\n');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(directory)).mode & 0o777, 0o700);
});

test('refuses a directory path that is a symlink', async () => {
  const target = path.join(base, 'elsewhere');
  await mkdir(target);
  const link = path.join(base, 'linked');
  await symlink(target, link);
  await assert.rejects(writeTokenFile(path.join(link, 'serve-token'), 't'), /not a directory/);
});

test('removes the file only while it holds our token', async () => {
  const file = path.join(base, 'shared', 'serve-token');
  await writeTokenFile(file, 'first');
  await writeFile(file, 'second\n');
  await removeTokenFile(file, 'first');
  assert.equal(await readFile(file, 'utf8'), 'second\n');
  await removeTokenFile(file, 'second');
  await assert.rejects(stat(file), { code: 'ENOENT' });
  await removeTokenFile(file, 'second');
});
