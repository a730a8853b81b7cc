/** Shared helpers for the block-layer tests: temp dirs, qemu tools as the oracle, the addon. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadNativeAddon } from '../../../electron/services/native/load-addon.ts';
import type { NativeAddon } from '../../../electron/services/native/native-addon.ts';

export const addon: NativeAddon = loadNativeAddon();

export function makeTempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nestbox-block-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool; throws with its output unless the exit status is one of `ok`. */
export function run(command: string, args: string[], ok: number[] = [0]): RunResult {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  const status = result.status ?? -1;
  if (!ok.includes(status)) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${status}\n${result.stdout}${result.stderr}`,
    );
  }
  return { status, stdout: result.stdout, stderr: result.stderr };
}

export const qemuImg = (...args: string[]) => run('qemu-img', args);
export const qemuIo = (file: string, format: string, ...commands: string[]) =>
  run('qemu-io', ['-f', format, ...commands.flatMap((c) => ['-c', c]), file]);

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The guest-visible bytes of an image as QEMU sees them. */
export function qemuRawContent(dir: string, image: string): Buffer {
  const out = path.join(dir, `${path.basename(image)}.expected.raw`);
  qemuImg('convert', '-O', 'raw', image, out);
  const bytes = readFileSync(out);
  rmSync(out);
  return bytes;
}

/** The guest-visible bytes of an image as our block layer reads them. */
export async function ourContent(image: string): Promise<Buffer> {
  const handle = await addon.openDiskImage(image, { readOnly: true });
  try {
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < handle.virtualSize; offset += 8 << 20) {
      const length = Math.min(8 << 20, handle.virtualSize - offset);
      chunks.push(Buffer.from(await handle.read(offset, length)));
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}

/** A deterministic pseudo-random generator (xorshift32). */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}
