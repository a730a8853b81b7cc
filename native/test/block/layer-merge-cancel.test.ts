/**
 * imageMergeLayer's progress and cancel through the addon, on a chain QEMU built, with
 * qemu-img as the oracle: a merge aborted by its signal rejects with an AbortError, leaves
 * the child on the layer, reading the same and passing `qemu-img check`; run again it
 * completes, its progress never decreasing and ending at the total.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { addon, makeTempDir, qemuImg, qemuIo, qemuRawContent, sha256 } from './helpers.ts';

const MiB = 1 << 20;

function backingOf(image: string): string | undefined {
  const info = JSON.parse(qemuImg('info', '--output=json', image).stdout) as {
    'backing-filename'?: string;
  };
  return info['backing-filename'];
}

test('a merge aborted by its signal leaves a clean child on the layer; run again it completes', async (t) => {
  const dir = makeTempDir(t);
  const base = path.join(dir, 'base.qcow2');
  const layer = path.join(dir, 'layer.qcow2');
  const child = path.join(dir, 'child.qcow2');
  qemuImg('create', '-f', 'qcow2', base, '64M');
  qemuIo(base, 'qcow2', 'write -P 0x11 0 64M');
  qemuImg('create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', layer);
  qemuIo(layer, 'qcow2', 'write -P 0x22 0 56M', 'write -z 60M 1M');
  qemuImg('create', '-f', 'qcow2', '-b', 'layer.qcow2', '-F', 'qcow2', child);
  qemuIo(child, 'qcow2', 'write -P 0x33 1M 100k', 'write -P 0x44 40M 3M');
  const before = qemuRawContent(dir, child);
  const layerHash = sha256(layer);

  // Aborted right after it was queued: the worker stops before the next 4 MiB piece.
  const controller = new AbortController();
  const reason = new Error('stop');
  const aborted = addon.imageMergeLayer(layer, child, { signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(aborted, (error: Error & { code?: string; cause?: unknown }) => {
    assert.equal(error.name, 'AbortError');
    assert.equal(error.code, 'ABORT_ERR');
    assert.equal(error.cause, reason);
    assert.match(error.message, /cancelled/);
    return true;
  });
  assert.equal(backingOf(child), 'layer.qcow2');
  qemuImg('check', child);
  assert.deepEqual(qemuRawContent(dir, child), before);
  assert.equal(sha256(layer), layerHash);

  // Already aborted: refused before anything starts.
  await assert.rejects(addon.imageMergeLayer(layer, child, { signal: controller.signal }), {
    code: 'ABORT_ERR',
  });

  // Copy only: the child takes the data but stays on the layer.
  const copied = await addon.imageMergeLayer(layer, child, { copyOnly: true });
  assert.equal(copied.alreadyMerged, false);
  assert.equal(backingOf(child), 'layer.qcow2');
  qemuImg('check', child);
  assert.deepEqual(qemuRawContent(dir, child), before);

  const reports: [number, number][] = [];
  const merged = await addon.imageMergeLayer(layer, child, {
    onProgress: (done, total) => reports.push([done, total]),
    signal: new AbortController().signal,
  });
  assert.equal(merged.bytesCopied, 0);
  assert.equal(backingOf(child), 'base.qcow2');
  qemuImg('check', child);
  assert.deepEqual(qemuRawContent(dir, child), before);
  assert.equal(sha256(layer), layerHash);
  assert.ok(reports.length > 0);
  assert.ok(
    reports.every(([done, total], i) => total === 64 * MiB && done >= (reports[i - 1]?.[0] ?? 0)),
  );
  assert.deepEqual(reports.at(-1), [64 * MiB, 64 * MiB]);
});

test('a full merge with progress reports from 0 up to the total', async (t) => {
  const dir = makeTempDir(t);
  const layer = path.join(dir, 'layer.qcow2');
  const child = path.join(dir, 'child.qcow2');
  qemuImg('create', '-f', 'qcow2', layer, '32M');
  qemuIo(layer, 'qcow2', 'write -P 0x22 0 30M');
  qemuImg('create', '-f', 'qcow2', '-b', 'layer.qcow2', '-F', 'qcow2', child);
  const before = qemuRawContent(dir, child);
  const reports: number[] = [];
  const result = await addon.imageMergeLayer(layer, child, {
    onProgress: (done) => reports.push(done),
  });
  assert.ok(result.bytesCopied >= 30 * MiB);
  assert.equal(reports.at(-1), 32 * MiB);
  assert.ok(reports.every((done, i) => done >= (reports[i - 1] ?? 0)));
  assert.equal(backingOf(child), undefined);
  qemuImg('check', child);
  assert.deepEqual(qemuRawContent(dir, child), before);
});
