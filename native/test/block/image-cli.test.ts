/** `nestbox image create|info|check` end to end, through the CLI's own runner. */
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../electron/cli/cli.ts';
import { commands } from '../../../electron/cli/commands/index.ts';
import { makeTempDir, qemuImg, run } from './helpers.ts';

async function nestbox(...args: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const status = await runCli(args, commands, {
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    env: process.env,
    appRoot: process.cwd(),
    appVersion: 'test',
    shutdown: new AbortController().signal,
  });
  return { status, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

test('image create makes qcow2 and raw images QEMU accepts; never overwrites', async (t) => {
  const dir = makeTempDir(t);
  const base = path.join(dir, 'base.qcow2');
  assert.equal((await nestbox('image', 'create', base, '--size', '10G')).status, 0);
  assert.match(qemuImg('info', base).stdout, /virtual size: 10 GiB/);
  const raw = path.join(dir, 'disk.raw');
  assert.equal(
    (await nestbox('image', 'create', raw, '--size', '512M', '--format', 'raw')).status,
    0,
  );
  assert.match(qemuImg('info', '-f', 'raw', raw).stdout, /virtual size: 512 MiB/);
  const overlay = path.join(dir, 'overlay.qcow2');
  assert.equal((await nestbox('image', 'create', overlay, '--backing', 'base.qcow2')).status, 0);
  assert.match(qemuImg('info', overlay).stdout, /backing file: base\.qcow2/);
  run('qemu-img', ['check', overlay]);

  const again = await nestbox('image', 'create', base, '--size', '1G');
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exists/);
  assert.equal((await nestbox('image', 'create', base)).status, 2);
  assert.equal((await nestbox('image', 'create', path.join(dir, 'x'), '--size', 'lots')).status, 2);
});

test('image info shows the chain, as text and JSON', async (t) => {
  const dir = makeTempDir(t);
  qemuImg('create', '-f', 'raw', path.join(dir, 'a.raw'), '1M');
  qemuImg('create', '-f', 'qcow2', '-b', 'a.raw', '-F', 'raw', path.join(dir, 'b.qcow2'));
  qemuImg('create', '-f', 'qcow2', '-b', 'b.qcow2', '-F', 'qcow2', path.join(dir, 'c.qcow2'));
  const text = await nestbox('image', 'info', path.join(dir, 'c.qcow2'));
  assert.equal(text.status, 0);
  assert.match(text.stdout, /file format: qcow2/);
  assert.match(text.stdout, /cluster size: 65536/);
  assert.match(text.stdout, /1\. .*b\.qcow2 \(qcow2/);
  assert.match(text.stdout, /2\. .*a\.raw \(raw/);
  const json = JSON.parse(
    (await nestbox('image', 'info', path.join(dir, 'c.qcow2'), '--json')).stdout,
  ) as {
    virtualSize: number;
    dirty: boolean;
    backingChain: unknown[];
  };
  assert.equal(json.virtualSize, 1 << 20);
  assert.equal(json.dirty, false);
  assert.equal(json.backingChain.length, 2);
});

test('image check exit status: 0 clean, 3 leaks, 2 corrupt, 1 unreadable', async (t) => {
  const dir = makeTempDir(t);
  const file = path.join(dir, 'c.qcow2');
  qemuImg('create', '-f', 'qcow2', file, '4M');
  assert.equal((await nestbox('image', 'check', file)).status, 0);
  truncateSync(file, 5 * 65536);
  // The refcount block is cluster 2; give cluster 4 (past the metadata) a count: a leak.
  run('qemu-io', ['-f', 'raw', '-c', `write -P 0x01 ${2 * 65536 + 9} 1`, file]);
  const leaked = await nestbox('image', 'check', file);
  assert.equal(leaked.status, 3, leaked.stdout);
  assert.match(leaked.stdout, /1 leaked clusters/);
  run('qemu-io', ['-f', 'raw', '-c', `write -P 0x00 ${2 * 65536 + 1} 1`, file]); // header refcount 0
  const corrupt = await nestbox('image', 'check', file);
  assert.equal(corrupt.status, 2, corrupt.stdout);
  assert.equal((await nestbox('image', 'check', path.join(dir, 'missing.qcow2'))).status, 1);
});
