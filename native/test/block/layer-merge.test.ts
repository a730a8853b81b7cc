/**
 * Deleting a snapshot layer (imageMergeLayer) and the header-only rebase (imageRebase) on
 * chains QEMU built, with qemu-img as the oracle: the child passes `qemu-img check`, names the
 * layer's backing file, and converts to the same raw bytes as before.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { DiskImageError } from '../../../electron/services/native/disk-image.ts';
import {
  addon,
  makeTempDir,
  ourContent,
  qemuImg,
  qemuIo,
  qemuRawContent,
  run,
  sha256,
} from './helpers.ts';

const MiB = 1 << 20;

interface QemuChainEntry {
  filename: string;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
}

interface QemuMapEntry {
  start: number;
  length: number;
  depth: number;
  zero: boolean;
  data: boolean;
}

function backingChain(image: string): QemuChainEntry[] {
  return JSON.parse(
    qemuImg('info', '--backing-chain', '--output=json', image).stdout,
  ) as QemuChainEntry[];
}

/** base.qcow2 ← layer.qcow2 ← child.qcow2, written by qemu-io (or layer.qcow2 ← child.qcow2). */
function buildChain(dir: string, layerBacked = true) {
  const base = path.join(dir, 'base.qcow2');
  const layer = path.join(dir, 'layer.qcow2');
  const child = path.join(dir, 'child.qcow2');
  if (layerBacked) {
    qemuImg('create', '-f', 'qcow2', base, '16M');
    qemuIo(base, 'qcow2', 'write -P 0x11 0 16M');
    qemuImg('create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', layer);
  } else {
    qemuImg('create', '-f', 'qcow2', layer, '16M');
  }
  qemuIo(
    layer,
    'qcow2',
    'write -P 0x22 100000 300000',
    `write -P 0x23 ${2 * MiB} 64k`,
    `write -z ${4 * MiB} 256k`,
    `write -z ${5 * MiB + 1000} 3000`,
    `discard ${6 * MiB} 128k`,
    `write -P 0x24 ${9 * MiB + 123} 70000`,
    `write -P 0x25 ${16 * MiB - 4096} 4096`,
  );
  qemuImg('create', '-f', 'qcow2', '-b', 'layer.qcow2', '-F', 'qcow2', child);
  qemuIo(
    child,
    'qcow2',
    'write -P 0x33 150000 10000',
    `write -P 0x34 ${2 * MiB + 32 * 1024} 64k`,
    `write -P 0x35 ${4 * MiB + 100 * 1024} 3`,
    `write -z ${9 * MiB} 64k`,
    `discard ${12 * MiB} 256k`,
  );
  return { base, layer, child };
}

test('merging a layer QEMU wrote keeps the child byte-identical and qemu-img happy', async (t) => {
  const dir = makeTempDir(t);
  const { base, layer, child } = buildChain(dir);
  const before = path.join(dir, 'before.raw');
  qemuImg('convert', '-O', 'raw', child, before);
  const layerHash = sha256(layer);

  const result = await addon.imageMergeLayer(layer, child);
  assert.ok(result.bytesCopied > 0);
  assert.ok(result.clustersCopied > 0);
  assert.equal(result.alreadyMerged, false);

  run('qemu-img', ['check', child]);
  const chain = backingChain(child);
  assert.equal(chain.length, 2);
  assert.equal(chain[0]?.['backing-filename'], 'base.qcow2');
  assert.equal(chain[0]?.['full-backing-filename'], base);
  assert.equal(chain[0]?.['backing-filename-format'], 'qcow2');
  run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', child, before]);
  assert.equal(sha256(layer), layerHash, 'the layer is not modified');
  assert.ok((await ourContent(child)).equals(qemuRawContent(dir, child)));

  // The layer's zero clusters stay sparse in the child: zero, no data, this layer.
  const map = JSON.parse(qemuImg('map', '--output=json', child).stdout) as QemuMapEntry[];
  const zeroes = map.find(
    (entry) => entry.start <= 4 * MiB && 4 * MiB < entry.start + entry.length,
  );
  assert.deepEqual(zeroes && { depth: zeroes.depth, zero: zeroes.zero, data: zeroes.data }, {
    depth: 0,
    zero: true,
    data: false,
  });

  // A second run finds the work done.
  assert.equal((await addon.imageMergeLayer(layer, child)).alreadyMerged, true);
  run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', child, before]);
});

test('merging a layer without a backing file leaves the child standalone', async (t) => {
  const dir = makeTempDir(t);
  const { layer, child } = buildChain(dir, false);
  const before = path.join(dir, 'before.raw');
  qemuImg('convert', '-O', 'raw', child, before);

  await addon.imageMergeLayer(layer, child);
  run('qemu-img', ['check', child]);
  const chain = backingChain(child);
  assert.equal(chain.length, 1);
  assert.equal(chain[0]?.['backing-filename'], undefined);
  run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', child, before]);
});

test('merging refuses a child that does not use the layer, changing nothing', async (t) => {
  const dir = makeTempDir(t);
  const { layer } = buildChain(dir);
  const other = path.join(dir, 'other.qcow2');
  const stranger = path.join(dir, 'stranger.qcow2');
  qemuImg('create', '-f', 'qcow2', other, '16M');
  qemuImg('create', '-f', 'qcow2', '-b', 'other.qcow2', '-F', 'qcow2', stranger);
  const strangerHash = sha256(stranger);
  await assert.rejects(addon.imageMergeLayer(layer, stranger), (error: DiskImageError) => {
    assert.equal(error.code, 'IMAGE_BACKING_CHAIN');
    assert.ok(error.message.includes(layer) && error.message.includes(stranger));
    return true;
  });
  assert.equal(sha256(stranger), strangerHash);
});

test('imageRebase matches qemu-img rebase -u and can drop the backing file', (t) => {
  const dir = makeTempDir(t);
  const { child } = buildChain(dir);
  const theirs = path.join(dir, 'theirs.qcow2');
  copyFileSync(child, theirs);

  addon.imageRebase(child, 'base.qcow2');
  qemuImg('rebase', '-u', '-b', 'base.qcow2', '-F', 'qcow2', theirs);
  run('qemu-img', ['check', child]);
  assert.equal(backingChain(child)[0]?.['backing-filename'], 'base.qcow2');
  run('qemu-img', ['compare', child, theirs]);

  addon.imageRebase(child, null);
  run('qemu-img', ['check', child]);
  assert.equal(backingChain(child).length, 1);
  assert.throws(
    () => addon.imageRebase(child, 'missing.qcow2'),
    (error: DiskImageError) => error.code === 'IMAGE_NOT_FOUND',
  );
});
