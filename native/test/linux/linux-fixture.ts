/**
 * The real-Linux fixture: Debian's newest linux-image-6.1.0-*-amd64 and
 * busybox-static, fetched with apt-get and unpacked with dpkg-deb, turned into
 * what `nestbox run` boots in the slow test:
 *   vmlinux            the ELF kernel, unpacked from the bzImage's compressed payload
 *   initramfs.cpio     a newc archive holding busybox and an /init script
 * Cached in .cache/linux-fixture/ (gitignored) per kernel package version.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repositoryRoot } from '../guests/run-nestbox.ts';
import { newcArchive, type CpioEntry } from './newc-cpio.ts';

export const fixtureDir = join(repositoryRoot, '.cache', 'linux-fixture');

/** Printed by /init if the kernel ever gets that far. */
export const INIT_MARKER = 'NESTBOX-INIT-REACHED';

export interface LinuxFixture {
  kernelPackage: string;
  vmlinux: string;
  initramfs: string;
}

function run(command: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
      ...(cwd ? { cwd } : {}),
    });
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(
      `linux fixture: ${command} ${args.join(' ')} failed: ${failure.stderr ?? failure.message}`,
      { cause: error },
    );
  }
}

const KERNEL_NAME = /^linux-image-6\.1\.0-(\d+)-amd64$/;

/** The newest linux-image-6.1.0-N-amd64 apt knows, or undefined. */
function newestKernelPackage(): string | undefined {
  // The metapackage names the current one.
  try {
    const depends = run('apt-cache', ['depends', 'linux-image-amd64']);
    const named = /Depends: (linux-image-6\.1\.0-\d+-amd64)\b/.exec(depends)?.[1];
    if (named) return named;
  } catch {
    // Fall back to searching by name.
  }
  const found = run('apt-cache', ['search', '--names-only', '^linux-image-6.1.0-[0-9.+-]*-amd64$'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => KERNEL_NAME.test(name))
    .sort((a, b) => Number(KERNEL_NAME.exec(b)?.[1]) - Number(KERNEL_NAME.exec(a)?.[1]));
  return found[0];
}

function findKernelPackage(): string {
  const known = newestKernelPackage();
  if (known) return known;
  run('apt-get', ['update']);
  const updated = newestKernelPackage();
  if (!updated) {
    throw new Error('linux fixture: apt knows no linux-image-6.1.0-*-amd64 package');
  }
  return updated;
}

/** Compression formats of the bzImage payload, by their magic bytes. */
const DECOMPRESSORS: { name: string; magic: number[]; command: string; args: string[] }[] = [
  {
    name: 'xz',
    magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    command: 'xz',
    args: ['-dc', '--single-stream'],
  },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], command: 'zstd', args: ['-dcq'] },
  { name: 'gzip', magic: [0x1f, 0x8b], command: 'gzip', args: ['-dc'] },
  { name: 'lz4', magic: [0x02, 0x21, 0x4c, 0x18], command: 'lz4', args: ['-dc'] },
];

/**
 * The ELF vmlinux inside a bzImage: the setup header's payload_offset and
 * payload_length (protocol 2.08+) locate the compressed kernel after the
 * real-mode setup; its last 4 bytes are the uncompressed size, not data.
 */
export function extractVmlinux(bzImage: Buffer, workDir: string): Buffer {
  if (bzImage.length < 0x268 || bzImage.toString('latin1', 0x202, 0x206) !== 'HdrS') {
    throw new Error('linux fixture: the kernel image has no Linux setup header');
  }
  const setupSects = bzImage.readUInt8(0x1f1) || 4;
  const payloadOffset = bzImage.readUInt32LE(0x248);
  const payloadLength = bzImage.readUInt32LE(0x24c);
  const start = (setupSects + 1) * 512 + payloadOffset;
  if (payloadLength <= 4 || start + payloadLength > bzImage.length) {
    throw new Error('linux fixture: the payload fields point outside the bzImage');
  }
  const payload = bzImage.subarray(start, start + payloadLength - 4);
  const decompressor = DECOMPRESSORS.find(({ magic }) =>
    magic.every((byte, index) => payload[index] === byte),
  );
  if (!decompressor) {
    throw new Error(
      `linux fixture: unknown payload compression (magic ${payload.subarray(0, 6).toString('hex')})`,
    );
  }
  const compressed = join(workDir, `payload.${decompressor.name}`);
  writeFileSync(compressed, payload);
  const vmlinux = execFileSync(decompressor.command, [...decompressor.args, compressed], {
    maxBuffer: 1024 * 1024 * 1024,
  });
  rmSync(compressed);
  if (vmlinux.toString('latin1', 0, 4) !== '\x7fELF') {
    throw new Error(`linux fixture: the ${decompressor.name} payload is not an ELF vmlinux`);
  }
  return vmlinux;
}

function buildInitramfs(busybox: Buffer): Buffer {
  const init = [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    `/bin/busybox echo ${INIT_MARKER}`,
    '/bin/busybox poweroff -f',
    '',
  ].join('\n');
  const entries: CpioEntry[] = [
    { name: 'bin', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', type: 'file', mode: 0o755, data: busybox },
    { name: 'dev', type: 'directory', mode: 0o755 },
    { name: 'dev/console', type: 'char-device', mode: 0o600, major: 5, minor: 1 },
    { name: 'init', type: 'file', mode: 0o755, data: Buffer.from(init) },
    { name: 'proc', type: 'directory', mode: 0o755 },
    { name: 'sys', type: 'directory', mode: 0o755 },
  ];
  return newcArchive(entries);
}

/** Downloads and prepares the fixture, or returns the cached one. */
export function prepareLinuxFixture(): LinuxFixture {
  const kernelPackage = findKernelPackage();
  const dir = join(fixtureDir, kernelPackage);
  const fixture: LinuxFixture = {
    kernelPackage,
    vmlinux: join(dir, 'vmlinux'),
    initramfs: join(dir, 'initramfs.cpio'),
  };
  const stamp = join(dir, '.complete');
  if (existsSync(stamp) && existsSync(fixture.vmlinux) && existsSync(fixture.initramfs)) {
    return fixture;
  }

  rmSync(dir, { recursive: true, force: true });
  const debs = join(dir, 'debs');
  const root = join(dir, 'root');
  mkdirSync(debs, { recursive: true });
  run('apt-get', ['download', kernelPackage, 'busybox-static'], debs);
  for (const deb of readdirSync(debs).filter((name) => name.endsWith('.deb'))) {
    run('dpkg-deb', ['-x', join(debs, deb), root]);
  }

  const bootDir = join(root, 'boot');
  const vmlinuz = readdirSync(bootDir).find((name) => name.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`linux fixture: no vmlinuz in ${kernelPackage}`);
  writeFileSync(fixture.vmlinux, extractVmlinux(readFileSync(join(bootDir, vmlinuz)), dir));
  writeFileSync(fixture.initramfs, buildInitramfs(readFileSync(join(root, 'bin', 'busybox'))));

  // The unpacked packages are large and no longer needed.
  rmSync(debs, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  return fixture;
}
