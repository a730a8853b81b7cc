/**
 * Interoperability of our qcow2/raw layer with QEMU's tools, used as the oracle:
 * images QEMU writes read back byte-identical through our code, and images we write
 * pass `qemu-img check` and `qemu-img compare`. Fixtures are generated in a temp dir.
 */
import assert from 'node:assert/strict';
import { openSync, readFileSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
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
  randomSource,
  run,
  sha256,
} from './helpers.ts';

const MiB = 1 << 20;

function patchFile(file: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function be64(value: bigint): Uint8Array {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(value);
  return bytes;
}

/** Writes a mix of patterns, zero writes and unaligned ranges with qemu-io. */
function qemuWrites(file: string, format: string, seed: number): void {
  qemuIo(
    file,
    format,
    `write -P 0x${(0xa0 + seed).toString(16)} 0 1M`,
    `write -P 0x${(0x10 + seed).toString(16)} ${3 * MiB + 512} 70k`,
    `write -z ${MiB + 65536 * seed} 64k`,
    `write -P 0x5${seed} ${5 * MiB - 4096} 8k`,
  );
}

async function assertSameContent(dir: string, image: string): Promise<void> {
  const expected = qemuRawContent(dir, image);
  const actual = await ourContent(image);
  assert.equal(actual.length, expected.length, 'virtual size');
  assert.ok(
    actual.equals(expected),
    `${path.basename(image)}: our bytes differ from qemu-img convert`,
  );
}

for (const compat of ['0.10', '1.1'] as const) {
  test(`qemu-img images (compat=${compat}) with qemu-io data read back identically`, async (t) => {
    const dir = makeTempDir(t);
    const image = path.join(dir, `v${compat}.qcow2`);
    qemuImg('create', '-f', 'qcow2', '-o', `compat=${compat}`, image, '8M');
    qemuWrites(image, 'qcow2', 1);
    await assertSameContent(dir, image);
    const info = await addon.imageInfo(image);
    assert.equal(info.version, compat === '0.10' ? 2 : 3);
    assert.equal((await addon.imageCheck(image)).status, 0);
  });
}

test('version 2 images open read-only and refuse writing with a clear message', async (t) => {
  const dir = makeTempDir(t);
  const image = path.join(dir, 'v2.qcow2');
  qemuImg('create', '-f', 'qcow2', '-o', 'compat=0.10', image, '1M');
  const before = sha256(image);
  await assert.rejects(addon.imageWrite(image, 0, new Uint8Array(10)), (error: DiskImageError) => {
    assert.equal(error.code, 'IMAGE_READ_ONLY');
    assert.match(error.message, /version 2/);
    return true;
  });
  assert.equal(sha256(image), before);
});

test('a backing chain of depth 3 (raw ← qcow2 v2 ← qcow2 v3 ← qcow2 v3) reads like QEMU', async (t) => {
  const dir = makeTempDir(t);
  const base = path.join(dir, 'base.raw');
  qemuImg('create', '-f', 'raw', base, '6M');
  qemuWrites(base, 'raw', 1);
  const layers = [
    ['l1.qcow2', 'base.raw', 'raw', '0.10'],
    ['l2.qcow2', 'l1.qcow2', 'qcow2', '1.1'],
    ['l3.qcow2', 'l2.qcow2', 'qcow2', '1.1'],
  ] as const;
  let seed = 2;
  for (const [name, backing, backingFormat, compat] of layers) {
    const file = path.join(dir, name);
    // Relative backing names: resolved against the overlay's folder.
    qemuImg(
      'create',
      '-f',
      'qcow2',
      '-o',
      `compat=${compat}`,
      '-b',
      backing,
      '-F',
      backingFormat,
      file,
      '8M',
    );
    qemuWrites(file, 'qcow2', seed++);
  }
  const top = path.join(dir, 'l3.qcow2');
  await assertSameContent(dir, top);
  const info = await addon.imageInfo(top);
  assert.deepEqual(
    info.backingChain.map((layer) => [path.basename(layer.path), layer.format]),
    [
      ['l2.qcow2', 'qcow2'],
      ['l1.qcow2', 'qcow2'],
      ['base.raw', 'raw'],
    ],
  );
});

for (const compression of ['zlib', 'zstd'] as const) {
  test(`compressed images (qemu-img convert -c, ${compression}) read back identically`, async (t) => {
    const dir = makeTempDir(t);
    const source = path.join(dir, 'source.raw');
    const random = randomSource(compression === 'zlib' ? 11 : 12);
    const bytes = Buffer.alloc(4 * MiB);
    for (let i = 0; i < bytes.length; i += 4096) {
      // Compressible text-like runs, some incompressible noise, some zero space.
      const kind = random() % 3;
      for (let j = i; j < i + 4096; j++)
        bytes[j] = kind === 0 ? 97 + (j % 7) : kind === 1 ? random() & 0xff : 0;
    }
    writeFileSync(source, bytes);
    const image = path.join(dir, `${compression}.qcow2`);
    qemuImg(
      'convert',
      '-c',
      '-f',
      'raw',
      '-O',
      'qcow2',
      '-o',
      `compression_type=${compression}`,
      source,
      image,
    );
    assert.equal(
      (await addon.imageInfo(image)).compression,
      compression === 'zlib' ? 'deflate' : 'zstd',
    );
    assert.ok((await ourContent(image)).equals(bytes));

    // Writing into a compressed cluster re-allocates it; QEMU still agrees.
    const copy = path.join(dir, 'rewritten.qcow2');
    qemuImg(
      'convert',
      '-c',
      '-f',
      'raw',
      '-O',
      'qcow2',
      '-o',
      `compression_type=${compression}`,
      source,
      copy,
    );
    const patch = Buffer.alloc(1000, 0xee);
    await addon.imageWrite(copy, 70_000, patch);
    patch.copy(bytes, 70_000);
    assert.equal(run('qemu-img', ['check', copy], [0, 2, 3]).status, 0);
    assert.ok(qemuRawContent(dir, copy).equals(bytes));
  });
}

/** Random writes, zero writes and discards through a handle, mirrored into `expected`. */
async function exercise(
  image: string,
  expected: Buffer,
  seed: number,
  backing: boolean,
): Promise<void> {
  const handle = await addon.openDiskImage(image);
  const random = randomSource(seed);
  const size = expected.length;
  const cluster = 65536;
  for (let op = 0; op < 150; op++) {
    const offset = random() % size;
    const length = 1 + (random() % Math.min(size - offset, 300_000));
    const kind = random() % 10;
    if (kind < 7) {
      const data = Buffer.alloc(length);
      for (let i = 0; i < length; i++) data[i] = random() & 0xff;
      await handle.write(offset, data);
      data.copy(expected, offset);
    } else if (kind < 9) {
      await handle.writeZeroes(offset, length);
      expected.fill(0, offset, offset + length);
    } else {
      // Whole clusters of a discard read as zero (over a backing file too); partial ones are kept.
      await handle.discard(offset, length);
      const first = Math.ceil(offset / cluster) * cluster;
      const end =
        offset + length === size ? size : Math.floor((offset + length) / cluster) * cluster;
      if (first < end) expected.fill(0, first, end);
    }
  }
  void backing;
  await handle.close();
}

function assertQemuAgrees(dir: string, image: string, expected: Buffer): void {
  const check = run('qemu-img', ['check', image], [0, 2, 3]);
  assert.equal(check.status, 0, `qemu-img check:\n${check.stdout}${check.stderr}`);
  const reference = path.join(dir, 'expected.raw');
  writeFileSync(reference, expected);
  run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', image, reference]);
}

test('images we create and write pass qemu-img check and compare', async (t) => {
  const dir = makeTempDir(t);
  const image = path.join(dir, 'ours.qcow2');
  const size = 16 * MiB + 4096;
  await addon.imageCreate(image, { size });
  const expected = Buffer.alloc(size);
  await exercise(image, expected, 99, false);
  assertQemuAgrees(dir, image, expected);
  assert.equal((await addon.imageCheck(image)).status, 0);
  assert.ok((await ourContent(image)).equals(expected));
});

test('overlays we create over QEMU images pass qemu-img check and compare', async (t) => {
  const dir = makeTempDir(t);
  const base = path.join(dir, 'base.qcow2');
  qemuImg('create', '-f', 'qcow2', base, '12M');
  qemuWrites(base, 'qcow2', 3);
  qemuIo(base, 'qcow2', 'write -P 0x77 6M 6M');
  const overlay = path.join(dir, 'overlay.qcow2');
  await addon.imageCreate(overlay, { backingFile: 'base.qcow2' });
  const info = await addon.imageInfo(overlay);
  assert.equal(info.virtualSize, 12 * MiB);
  assert.equal(info.backingFormat, 'qcow2');
  const expected = qemuRawContent(dir, base);
  await exercise(overlay, expected, 5, true);
  assertQemuAgrees(dir, overlay, expected);
  // QEMU sees the same chain we wrote.
  assert.match(qemuImg('info', overlay).stdout, /backing file: base\.qcow2/);
});

test('a small-cluster image that grows its refcount table stays valid for QEMU', async (t) => {
  const dir = makeTempDir(t);
  const image = path.join(dir, 'small.qcow2');
  await addon.imageCreate(image, { size: 20 * MiB, clusterSize: 512 });
  const expected = Buffer.alloc(20 * MiB);
  const random = randomSource(3);
  for (let i = 0; i < expected.length; i++) expected[i] = random() & 0xff;
  const handle = await addon.openDiskImage(image);
  for (let offset = 0; offset < expected.length; offset += 4 * MiB) {
    await handle.write(offset, expected.subarray(offset, offset + 4 * MiB));
  }
  await handle.close();
  assertQemuAgrees(dir, image, expected);
});

test('our check agrees with qemu-img check on leaked and corrupted images', async (t) => {
  const dir = makeTempDir(t);
  const make = (name: string) => {
    const file = path.join(dir, name);
    qemuImg('create', '-f', 'qcow2', file, '4M');
    qemuIo(file, 'qcow2', 'write -P 0x42 0 128k');
    return file;
  };
  // QEMU's layout: header 0, refcount table 1, refcount block 2 (16-bit), L1 3, L2 4, data 5-6.
  const block = 2 * 65536;

  const leaked = make('leaked.qcow2');
  truncateSync(leaked, 9 * 65536);
  patchFile(leaked, block + 2 * 8, Buffer.from([0, 1]));
  const corrupted = make('corrupted.qcow2');
  patchFile(corrupted, block + 2 * 5, Buffer.from([0, 0]));
  const doubled = make('doubled.qcow2');
  patchFile(doubled, block + 2 * 6, Buffer.from([0, 2]));
  const clean = make('clean.qcow2');

  for (const file of [clean, leaked, corrupted, doubled]) {
    const qemu = run('qemu-img', ['check', file], [0, 2, 3]);
    const ours = await addon.imageCheck(file);
    assert.equal(
      ours.status,
      qemu.status,
      `${path.basename(file)}: ours ${ours.status}, qemu ${qemu.status}`,
    );
    const errors = /(\d+) errors were found/.exec(qemu.stdout);
    assert.equal(ours.corruptions, errors ? Number(errors[1]) : 0, path.basename(file));
    const leaks = /(\d+) leaked clusters/.exec(qemu.stdout);
    assert.equal(ours.leaks, leaks ? Number(leaks[1]) : 0, path.basename(file));
  }
});

test('truncated, corrupt and unknown-feature images are refused and left unchanged', async (t) => {
  const dir = makeTempDir(t);
  const cases: [string, (file: string) => void, string, RegExp][] = [
    [
      'truncated',
      (file) => truncateSync(file, 100_000),
      'IMAGE_CORRUPT',
      /beyond the end|truncated/,
    ],
    ['short', (file) => truncateSync(file, 40), 'IMAGE_CORRUPT', /too short/],
    [
      'unknown-bit',
      (file) => patchFile(file, 72, be64(1n << 9n)),
      'IMAGE_UNSUPPORTED',
      /incompatible feature bit 9/,
    ],
    ['bad-l1', (file) => patchFile(file, 40, be64(12345n)), 'IMAGE_CORRUPT', /L1 table/],
    [
      'bad-l2',
      (file) => patchFile(file, 3 * 65536, be64((1n << 63n) | (7n * 4096n))),
      'IMAGE_CORRUPT',
      /L2/,
    ],
  ];
  for (const [name, damage, code, message] of cases) {
    const file = path.join(dir, `${name}.qcow2`);
    qemuImg('create', '-f', 'qcow2', file, '4M');
    qemuIo(file, 'qcow2', 'write -P 0x42 0 64k');
    damage(file);
    const before = sha256(file);
    const failure = (error: DiskImageError) => {
      assert.equal(error.code, code, `${name}: ${error.message}`);
      assert.match(error.message, message, name);
      assert.ok(error.message.includes(file), `${name}: the message names the file`);
      return true;
    };
    const open = async () => {
      const handle = await addon.openDiskImage(file);
      try {
        await handle.read(0, 4096);
        await handle.write(0, new Uint8Array(4096));
      } finally {
        await handle.close().catch(() => undefined);
      }
    };
    await assert.rejects(open(), failure);
    assert.equal(sha256(file), before, `${name}: the file must not change`);
  }
  // Also refused when named as a backing file, and the error names it.
  const overlay = path.join(dir, 'overlay.qcow2');
  qemuImg('create', '-f', 'qcow2', '-b', 'missing.qcow2', '-F', 'qcow2', '-u', overlay, '4M');
  await assert.rejects(addon.imageRead(overlay, 0, 512), (error: DiskImageError) => {
    assert.equal(error.code, 'IMAGE_NOT_FOUND');
    assert.match(error.message, /missing\.qcow2/);
    return true;
  });
  void readFileSync;
});
