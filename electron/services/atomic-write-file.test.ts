import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { atomicWriteFile } from './atomic-write-file.ts';

const directory = await mkdtemp(path.join(os.tmpdir(), 'nestbox-atomic-'));
after(() => rm(directory, { recursive: true, force: true }));

test('replaces the content and leaves no temp file', async () => {
  const file = path.join(directory, 'state.json');
  await writeFile(file, 'old content that is longer than the new one');
  await atomicWriteFile(file, 'new');
  assert.equal(await readFile(file, 'utf8'), 'new');
  assert.deepEqual(await readdir(directory), ['state.json']);
});

test('creates the file with the requested mode', async () => {
  const file = path.join(directory, 'secret');
  await atomicWriteFile(file, 'token', { mode: 0o600 });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('a failed write leaves the old file intact', async () => {
  const file = path.join(directory, 'kept.json');
  await writeFile(file, 'precious');
  await assert.rejects(atomicWriteFile(path.join(directory, 'missing-dir', 'x.json'), 'data'));
  // Renaming over a non-empty directory fails after the temp file was written: it is removed.
  const occupied = path.join(directory, 'occupied');
  await mkdir(occupied);
  await writeFile(path.join(occupied, 'child'), '');
  await assert.rejects(atomicWriteFile(occupied, 'data'));
  assert.equal(await readFile(file, 'utf8'), 'precious');
  assert.ok((await readdir(directory)).every((name) => !name.endsWith('.tmp')));
});
