/**
 * Machine snapshots on real /dev/kvm, through the addon, with the
 * snapshot-counter guest (snapshot-counter.c): it counts for ever, and for
 * each n writes n to sector 0 of its virtio-blk disk, draws frame n on the
 * display, prints "count <n>" and waits a little (in ring 3).
 * - A paused machine saves its snapshot (progress reported, zero pages left
 *   as holes); resumed, it keeps counting without a gap.
 * - Restored (with a copy of the disk as it was at the save), the machine
 *   shows the saved frame byte for byte before it starts, and once started
 *   continues at exactly the next count, writing its disk and drawing.
 * - Restores are repeatable: one after the other, and two machines at once
 *   (disks: qcow2 overlays over the frozen disk), each from the same files,
 *   which stay byte-identical (RAM is mapped copy-on-write).
 * - Unusable snapshots (truncated, corrupt, other format versions, a RAM file
 *   of the wrong size, other memory, vCPUs or display) are refused with
 *   SNAPSHOT_UNUSABLE, the right snapshotProblem and a message naming the file
 *   or the difference; nothing is written and a good restore still works.
 * - saveSnapshot is refused (INVALID_STATE) unless the machine is paused.
 * Needs /dev/kvm and qemu-img (Debian qemu-utils).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addonWithKvm } from './kvm-addon.ts';
import type {
  DisplayFrame,
  Machine,
  MachineConfig,
  MachineEvent,
  MachineState,
  NativeAddon,
  SnapshotFiles,
  SnapshotProblem,
  SnapshotSaveResult,
} from '../../../electron/services/native/native-addon.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

/** Generous: the guest's set-up runs at CPL 0, which the CI machines emulate. */
const GUEST_TIMEOUT_MS = 60_000;
const MiB = 1024 * 1024;
const SECTOR = 512;
const DISK_SIZE = MiB;
const MEMORY_MIB = 64;
const WIDTH = 640;
const HEIGHT = 480;
/** Rounds of 2^20 spins between counts (snapshot-counter.c): about 0.25 s on the CI CPU. */
const SPIN_ROUNDS = 300;
/** After a pause, how long serial output the guest wrote before it may still take to arrive. */
const SERIAL_SETTLE_MS = 50;

/** The state file's layout (native/src/snapshot/state_file.h). */
const STATE_MAGIC = 'NBSNAP\r\n';
const STATE_FORMAT_OFFSET = 8;
const STATE_HEADER_SIZE = 12;
const SECTION_HEADER_SIZE = 24;

interface SnapshotError extends Error {
  code?: string;
  snapshotProblem?: SnapshotProblem;
}

let addon: NativeAddon;
let guests: GuestImages;
let scratch: string;

before(() => {
  addon = addonWithKvm();
  const qemuImg = spawnSync('qemu-img', ['--version'], { encoding: 'utf8' });
  assert.equal(qemuImg.status, 0, 'these tests need qemu-img (Debian package qemu-utils)');
  guests = buildGuests();
  scratch = mkdtempSync(join(tmpdir(), 'nestbox-snapshot-'));
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let fileCounter = 0;
function scratchPath(name: string): string {
  return join(scratch, `${++fileCounter}-${name}`);
}

function config(diskPath: string, extra: Partial<MachineConfig> = {}): MachineConfig {
  return {
    kernelPath: guests.elf['snapshot-counter'],
    cmdline: `spin=${SPIN_ROUNDS}`,
    memoryMiB: MEMORY_MIB,
    cpus: 1,
    disks: [{ path: diskPath }],
    entropy: false,
    display: { width: WIDTH, height: HEIGHT },
    ...extra,
  };
}

// ---- the guest's disk and screen (snapshot-counter.c) ----

/** Sector 0 as the guest sees it (qcow2 through qemu-img convert). */
function sector0(path: string): Buffer {
  if (!path.endsWith('.qcow2')) return readFileSync(path).subarray(0, SECTOR);
  const raw = `${path}.converted.raw`;
  execFileSync('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', path, raw]);
  const bytes = readFileSync(raw).subarray(0, SECTOR);
  rmSync(raw);
  return bytes;
}

/** What the guest writes to sector 0 for count n. */
function expectedSector0(n: number): Buffer {
  const bytes = Buffer.alloc(SECTOR);
  bytes.writeBigUInt64LE(BigInt(n), 0);
  bytes.write(`NBCOUNT ${n}\n`, 8, 'latin1');
  return bytes;
}

function assertDiskHolds(path: string, n: number, what: string): void {
  const bytes = sector0(path);
  assert.ok(
    bytes.equals(expectedSector0(n)),
    `${what}: sector 0 holds count ${n}; it holds ${bytes.readBigUInt64LE(0)} ` +
      `(${JSON.stringify(bytes.subarray(8, 32).toString('latin1'))})`,
  );
}

/** Frame n: color(n) and its inverse on a 16-pixel checkerboard whose phase is n's parity. */
function expectedPixel(n: number, x: number, y: number): number {
  const color = (Math.imul(n, 2654435761 | 0) >>> 0) >>> 8;
  return ((((x >> 4) ^ (y >> 4)) + (n & 1)) & 1) === 0 ? color : ~color & 0xffffff;
}

function assertFrameIsCount(frame: DisplayFrame | null, n: number, what: string): void {
  assert.ok(frame, `${what}: a frame`);
  assert.deepEqual(frame.mode, { width: WIDTH, height: HEIGHT, bitsPerPixel: 32 }, what);
  const pixels = frame.pixels;
  let mismatches = 0;
  let first = '';
  for (let y = 0; y < HEIGHT; ++y) {
    for (let x = 0; x < WIDTH; ++x) {
      const at = (y * WIDTH + x) * 4;
      const rgb = (pixels[at] ?? 0) | ((pixels[at + 1] ?? 0) << 8) | ((pixels[at + 2] ?? 0) << 16);
      const expected = expectedPixel(n, x, y);
      if (rgb !== expected) {
        if (mismatches++ === 0) {
          first = `(${x},${y}) is ${rgb.toString(16)} instead of ${expected.toString(16)}`;
        }
      }
    }
  }
  assert.equal(mismatches, 0, `${what}: the screen shows frame ${n}; first difference ${first}`);
}

function assertSameFrame(actual: DisplayFrame | null, saved: DisplayFrame, what: string): void {
  assert.ok(actual, `${what}: a frame`);
  assert.deepEqual(actual.mode, saved.mode, `${what}: the mode`);
  assert.equal(actual.pixels.length, saved.pixels.length, `${what}: the frame's size`);
  const differing = Buffer.compare(Buffer.from(actual.pixels), Buffer.from(saved.pixels));
  assert.equal(differing, 0, `${what}: the frame is byte-identical to the saved one`);
}

// ---- one machine running the guest ----

class CounterRun {
  readonly machine: Machine;
  serial = '';
  readonly events: MachineEvent[] = [];
  readonly #decoder = new TextDecoder();

  constructor(machineConfig: MachineConfig) {
    this.machine = new addon.Machine(machineConfig, (event) => {
      if (event.type === 'serial') {
        this.serial += this.#decoder.decode(event.data, { stream: true });
      } else {
        this.events.push(event);
      }
    });
  }

  get state(): MachineState {
    return this.machine.state;
  }

  /** The complete lines printed so far. */
  lines(): string[] {
    const end = this.serial.lastIndexOf('\n');
    return end < 0 ? [] : this.serial.slice(0, end).split('\n');
  }

  /** The counts printed so far, in order. */
  counts(): number[] {
    return this.lines()
      .map((line) => /^count (\d+)$/.exec(line)?.[1])
      .filter((count): count is string => count !== undefined)
      .map(Number);
  }

  lastCount(): number | undefined {
    return this.counts().at(-1);
  }

  async until(what: string, done: () => boolean, timeoutMs = GUEST_TIMEOUT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      const state = this.machine.state;
      if (state === 'stopped' || state === 'error') {
        assert.fail(
          `the machine ${state} while waiting for ${what}; events ${JSON.stringify(this.events)}; ` +
            `serial:\n${this.serial}`,
        );
      }
      if (performance.now() > deadline) {
        assert.fail(`timed out waiting for ${what}; serial:\n${this.serial}`);
      }
      await sleep(1);
    }
  }

  async untilCount(n: number): Promise<void> {
    await this.until(`count ${n}`, () => (this.lastCount() ?? 0) >= n);
  }

  /** Pauses and waits for the paused state event; then lets in-flight serial output arrive. */
  async pause(): Promise<void> {
    const seen = this.events.length;
    this.machine.pause();
    await this.until('the paused state event', () =>
      this.events.slice(seen).some((event) => event.type === 'state' && event.state === 'paused'),
    );
    assert.equal(this.machine.state, 'paused');
    await sleep(SERIAL_SETTLE_MS);
  }

  /**
   * Waits for "count n", then pauses at once: the guest is in its wait, so the disk holds n
   * and the screen shows frame n. Returns the last count printed (n unless the pause was late).
   */
  async pauseAfterCount(n: number): Promise<number> {
    await this.untilCount(n);
    await this.pause();
    const last = this.lastCount() ?? 0;
    assert.ok(
      this.serial.endsWith('\n'),
      `paused between steps, not inside a line: ${JSON.stringify(this.serial.slice(-20))}`,
    );
    return last;
  }

  close(): void {
    this.machine.close();
  }
}

/** Runs `body` with a machine that is closed afterwards whatever happens. */
async function withRun<T>(
  machineConfig: MachineConfig,
  body: (run: CounterRun) => Promise<T>,
): Promise<T> {
  const run = new CounterRun(machineConfig);
  try {
    return await body(run);
  } finally {
    run.close();
  }
}

/** Counts strictly increasing by one from `first`. */
function assertConsecutive(counts: number[], first: number, what: string): void {
  const expected = counts.map((_, i) => first + i);
  assert.deepEqual(counts, expected, `${what}: counts go up by one from ${first}`);
}

// ---- the snapshot all tests share ----

interface Saved {
  files: SnapshotFiles;
  result: SnapshotSaveResult;
  /** The last count printed before the pause. */
  count: number;
  frame: DisplayFrame;
  /** A copy of the disk as it was at the save. */
  frozenDisk: string;
  stateHash: string;
  ramHash: string;
}

let saved: Saved | undefined;

function snapshot(): Saved {
  assert.ok(saved, 'the first test saved the snapshot');
  return saved;
}

/** A fresh disk for a restore: a raw copy of the frozen disk, or a qcow2 overlay over it. */
function restoreDisk(kind: 'raw' | 'qcow2'): string {
  const { frozenDisk } = snapshot();
  if (kind === 'raw') {
    const path = scratchPath('restore.raw');
    copyFileSync(frozenDisk, path);
    return path;
  }
  const path = scratchPath('overlay.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', frozenDisk, '-F', 'raw', path]);
  return path;
}

/**
 * Restores the snapshot onto `disk` and checks the continuation: before start, the saved
 * frame; once started, "count N+1" first, then consecutive counts; paused after count
 * N+`steps`, the disk and the screen hold that count.
 */
async function restoreAndContinue(run: CounterRun, disk: string, steps: number): Promise<void> {
  const { count, frame } = snapshot();
  assert.equal(run.state, 'created', 'a restored machine waits for start()');
  assertSameFrame(run.machine.readDisplayFrame(), frame, 'the restored screen before start');
  run.machine.start();
  await run.untilCount(count + 1);
  const lines = run.lines();
  assert.equal(lines[0], `count ${count + 1}`, `the first line after the restore:\n${run.serial}`);
  const last = await run.pauseAfterCount(count + steps);
  assert.equal(last, count + steps, 'paused right after the count waited for');
  assertConsecutive(run.counts(), count + 1, 'after the restore');
  assert.deepEqual(
    run.lines().filter((line) => !/^count \d+$/.test(line)),
    [],
    'nothing but counts (no disk errors)',
  );
  assertDiskHolds(disk, last, 'the restored machine writes its disk');
  assertFrameIsCount(run.machine.readDisplayFrame(), last, 'the restored machine draws');
  run.machine.resume();
}

function assertSnapshotFilesUnchanged(): void {
  const { files, stateHash, ramHash } = snapshot();
  assert.equal(sha256(files.stateFile), stateHash, 'the state file is byte-identical');
  assert.equal(sha256(files.ramFile), ramHash, 'the RAM file is byte-identical');
}

describe('machine snapshots', { skip: kvmSkipReason() }, () => {
  test('a paused machine saves a snapshot; resumed, it keeps counting', async () => {
    const disk = scratchPath('disk.raw');
    writeFileSync(disk, Buffer.alloc(DISK_SIZE));
    await withRun(config(disk), async (run) => {
      const began = performance.now();
      run.machine.start();
      await run.until('the banner', () => run.lines().length > 0);
      assert.match(
        run.lines()[0] ?? '',
        new RegExp(`^snapshot-counter: fb=0x[0-9a-f]+ ${WIDTH}x${HEIGHT} stride=\\d+ disk=2048 `),
      );
      const count = await run.pauseAfterCount(3);
      const seconds = (performance.now() - began) / 1000;
      assert.equal(count, 3, 'paused right after count 3');
      assertDiskHolds(disk, count, 'at the pause');
      const frame = run.machine.readDisplayFrame();
      assertFrameIsCount(frame, count, 'at the pause');
      assert.ok(frame);
      const frozenDisk = scratchPath('frozen.raw');
      copyFileSync(disk, frozenDisk);

      const files = { stateFile: scratchPath('machine.state'), ramFile: scratchPath('ram.bin') };
      const progress: [number, number][] = [];
      const saveBegan = performance.now();
      const result = await run.machine.saveSnapshot(files, (done, total) => {
        progress.push([done, total]);
      });
      const saveMs = performance.now() - saveBegan;
      assert.equal(run.state, 'paused', 'still paused after the save');
      assert.equal(result.ramBytes, MEMORY_MIB * MiB, 'ramBytes: all guest RAM');
      assert.ok(
        result.ramBytesWritten > 0 && result.ramBytesWritten < result.ramBytes,
        `only non-zero pages are written: ${result.ramBytesWritten} of ${result.ramBytes}`,
      );
      assert.equal(result.ramBytesWritten % 4096, 0, 'whole pages');
      assert.equal(statSync(files.stateFile).size, result.stateBytes, 'stateBytes');
      assert.equal(statSync(files.ramFile).size, result.ramBytes, 'the RAM file spans all RAM');
      assert.ok(
        statSync(files.ramFile).blocks * 512 < result.ramBytes,
        'the RAM file is sparse (zero pages are holes)',
      );
      assert.equal(
        readFileSync(files.stateFile).subarray(0, 8).toString('latin1'),
        STATE_MAGIC,
        'the state file starts with its magic',
      );
      assert.ok(progress.length > 0, 'progress was reported');
      for (let i = 1; i < progress.length; ++i) {
        assert.ok(
          (progress[i]?.[0] ?? 0) >= (progress[i - 1]?.[0] ?? 0),
          'progress never goes back',
        );
      }
      assert.ok(
        progress.every(([done, total]) => total === result.ramBytes && done <= total),
        `progress counts RAM bytes out of ${result.ramBytes}: ${JSON.stringify(progress)}`,
      );
      assert.deepEqual(
        progress.at(-1),
        [result.ramBytes, result.ramBytes],
        'progress ends at 100%',
      );
      console.log(
        `# count ${count} after ${seconds.toFixed(1)} s; saved in ${saveMs.toFixed(0)} ms: ` +
          `${result.ramBytesWritten} of ${result.ramBytes} RAM bytes, state ${result.stateBytes} ` +
          `bytes, ${progress.length} progress calls`,
      );
      saved = {
        files,
        result,
        count,
        frame,
        frozenDisk,
        stateHash: sha256(files.stateFile),
        ramHash: sha256(files.ramFile),
      };

      // The screen and disk are as they were; the machine goes on from where it was.
      assertSameFrame(run.machine.readDisplayFrame(), frame, 'after the save');
      const resumedAt = performance.now();
      run.machine.resume();
      await run.untilCount(count + 5);
      const perCount = (performance.now() - resumedAt) / 5;
      assertConsecutive(run.counts(), 1, 'the saved machine');
      console.log(`# ${(1000 / perCount).toFixed(1)} counts per second`);
    });
  });

  test('restored, it shows the saved screen and continues at the next count', async () => {
    const disk = restoreDisk('raw');
    const { count, files, frozenDisk } = snapshot();
    const frozenHash = sha256(frozenDisk);
    assertDiskHolds(disk, count, 'the disk as saved');
    const began = performance.now();
    await withRun(config(disk, { restore: files }), async (run) => {
      console.log(`# restored (new Machine) in ${(performance.now() - began).toFixed(1)} ms`);
      await restoreAndContinue(run, disk, 3);
      await run.untilCount(count + 5);
      assertConsecutive(run.counts(), count + 1, 'after resuming the restored machine');
      // Serial input reaches the restored guest's COM1.
      assert.equal(run.machine.sendSerialInput(new TextEncoder().encode('q')), 1);
      await run.until('the echo', () => run.lines().includes('got q'));
    });
    assert.equal(sha256(frozenDisk), frozenHash, 'the frozen disk was not touched');
    assertSnapshotFilesUnchanged();
  });

  test('restores are repeatable, one after another and two at once; the files stay the same', async () => {
    const { count, files, frozenDisk } = snapshot();
    const frozenHash = sha256(frozenDisk);
    // One after the other, each on its own overlay over the frozen disk.
    for (let i = 0; i < 2; ++i) {
      const disk = restoreDisk('qcow2');
      await withRun(config(disk, { restore: files }), (run) => restoreAndContinue(run, disk, 2));
      assertSnapshotFilesUnchanged();
    }
    // Two at once: both continue from the same count, independently.
    const disks = [restoreDisk('qcow2'), restoreDisk('raw')] as const;
    const runs = disks.map((disk) => new CounterRun(config(disk, { restore: files })));
    try {
      await Promise.all(runs.map((run, i) => restoreAndContinue(run, disks[i] ?? '', 2)));
      assert.equal(runs[0]?.machine.sendSerialInput(new TextEncoder().encode('a')), 1);
      assert.equal(runs[1]?.machine.sendSerialInput(new TextEncoder().encode('b')), 1);
      await Promise.all(
        runs.map((run, i) =>
          run.until(`the echo of machine ${i}`, () => run.lines().includes(`got ${'ab'[i]}`)),
        ),
      );
      for (const [i, run] of runs.entries()) {
        assert.ok(!run.lines().includes(`got ${'ba'[i]}`), 'each machine got only its own input');
        assertConsecutive(run.counts(), count + 1, `machine ${i}`);
      }
    } finally {
      for (const run of runs) run.close();
    }
    assertSnapshotFilesUnchanged();
    assert.equal(sha256(frozenDisk), frozenHash, 'overlays kept the frozen disk as it was');
  });

  describe('unusable snapshots are refused', () => {
    /** The state file's sections: where each payload is and how long it is. */
    function sections(state: Buffer): { tag: string; at: number; length: number }[] {
      const found = [];
      let at = STATE_HEADER_SIZE;
      while (at + SECTION_HEADER_SIZE <= state.length) {
        const tag = state.subarray(at, at + 4).toString('latin1');
        const length = Number(state.readBigUInt64LE(at + 8));
        found.push({ tag, at: at + SECTION_HEADER_SIZE, length });
        at += SECTION_HEADER_SIZE + length;
      }
      return found;
    }

    /** A copy of the state file changed by `change`. */
    function badStateFile(name: string, change: (bytes: Buffer) => Buffer): string {
      const path = scratchPath(name);
      writeFileSync(path, change(Buffer.from(readFileSync(snapshot().files.stateFile))));
      return path;
    }

    interface Case {
      what: string;
      files: () => SnapshotFiles;
      config?: Partial<MachineConfig>;
      problem: SnapshotProblem;
      /** Must appear in the message (a file name, the difference). */
      names: (files: SnapshotFiles) => (string | RegExp)[];
    }

    const cases: Case[] = [
      {
        what: 'a truncated state file',
        files: () => ({
          ...snapshot().files,
          stateFile: badStateFile('truncated.state', (b) => b.subarray(0, b.length >> 1)),
        }),
        problem: 'truncated',
        names: (files) => [files.stateFile, /truncated/],
      },
      {
        what: 'a state file with one flipped byte',
        files: () => ({
          ...snapshot().files,
          stateFile: badStateFile('flipped.state', (bytes) => {
            // The middle of the largest section's payload.
            const largest = sections(bytes).reduce((a, b) => (b.length > a.length ? b : a));
            const at = largest.at + (largest.length >> 1);
            bytes[at] = (bytes[at] ?? 0) ^ 0x10;
            return bytes;
          }),
        }),
        problem: 'bad-checksum',
        names: (files) => [files.stateFile, /checksum/],
      },
      {
        what: 'a state file of format version 0 (older)',
        files: () => ({
          ...snapshot().files,
          stateFile: badStateFile('format-0.state', (bytes) => {
            bytes.writeUInt32LE(0, STATE_FORMAT_OFFSET);
            return bytes;
          }),
        }),
        problem: 'older-format',
        names: (files) => [files.stateFile, /format 0/],
      },
      {
        what: 'a state file of format version 99 (newer)',
        files: () => ({
          ...snapshot().files,
          stateFile: badStateFile('format-99.state', (bytes) => {
            bytes.writeUInt32LE(99, STATE_FORMAT_OFFSET);
            return bytes;
          }),
        }),
        problem: 'newer-format',
        names: (files) => [files.stateFile, /format 99/],
      },
      {
        what: 'a state file that is not one (the RAM file)',
        files: () => ({ ...snapshot().files, stateFile: snapshot().files.ramFile }),
        problem: 'not-a-snapshot',
        names: (files) => [files.stateFile],
      },
      {
        what: 'a missing state file',
        files: () => ({ ...snapshot().files, stateFile: join(scratch, 'no-such.state') }),
        problem: 'io',
        names: (files) => [files.stateFile],
      },
      {
        what: 'a RAM file of the wrong size',
        files: () => {
          const ramFile = scratchPath('short-ram.bin');
          writeFileSync(ramFile, '');
          truncateSync(ramFile, snapshot().result.ramBytes - 4096);
          return { ...snapshot().files, ramFile };
        },
        problem: 'mismatch',
        names: (files) => [files.ramFile, String(snapshot().result.ramBytes - 4096)],
      },
      {
        what: 'a machine with more memory',
        files: () => snapshot().files,
        config: { memoryMiB: 2 * MEMORY_MIB },
        problem: 'mismatch',
        names: () => [`${MEMORY_MIB} MiB`, `${2 * MEMORY_MIB} MiB`],
      },
      {
        what: 'a machine with two vCPUs',
        files: () => snapshot().files,
        config: { cpus: 2 },
        problem: 'mismatch',
        names: () => [/vCPU/],
      },
      {
        what: 'a machine without the display',
        files: () => snapshot().files,
        config: { display: null },
        problem: 'mismatch',
        names: () => [/display|video memory/],
      },
    ];

    for (const { what, files: makeFiles, config: changes, problem, names } of cases) {
      test(`${what}: SNAPSHOT_UNUSABLE (${problem})`, () => {
        const files = makeFiles();
        const disk = restoreDisk('raw');
        const hashes = [files.stateFile, files.ramFile, disk].map((path) =>
          existsSync(path) ? sha256(path) : 'missing',
        );
        let machine: Machine | undefined;
        try {
          machine = new addon.Machine(config(disk, { ...changes, restore: files }), () => {});
        } catch (caught) {
          const error = caught as SnapshotError;
          assert.equal(error.code, 'SNAPSHOT_UNUSABLE', `${error.code}: ${error.message}`);
          assert.equal(error.snapshotProblem, problem, error.message);
          for (const name of names(files)) {
            if (typeof name === 'string') {
              assert.ok(
                error.message.includes(name),
                `the message names ${name}: ${error.message}`,
              );
            } else {
              assert.match(error.message, name);
            }
          }
        } finally {
          machine?.close();
        }
        assert.equal(machine, undefined, 'the machine was not created');
        assert.deepEqual(
          [files.stateFile, files.ramFile, disk].map((path) =>
            existsSync(path) ? sha256(path) : 'missing',
          ),
          hashes,
          'nothing was written: the files are byte-identical',
        );
        assertSnapshotFilesUnchanged();
      });
    }

    test('after all that, the snapshot still restores', async () => {
      const disk = restoreDisk('raw');
      await withRun(config(disk, { restore: snapshot().files }), (run) =>
        restoreAndContinue(run, disk, 1),
      );
      assertSnapshotFilesUnchanged();
    });
  });

  test('saveSnapshot refuses a machine that is not paused (INVALID_STATE)', async () => {
    const disk = restoreDisk('raw');
    await withRun(config(disk, { restore: snapshot().files }), async (run) => {
      const files = {
        stateFile: scratchPath('refused.state'),
        ramFile: scratchPath('refused.ram'),
      };
      const invalidState = (error: SnapshotError) => {
        assert.equal(error.code, 'INVALID_STATE', error.message);
        assert.match(error.message, /pause/);
        return true;
      };
      await assert.rejects(run.machine.saveSnapshot(files), invalidState, 'created');
      run.machine.start();
      await run.untilCount(snapshot().count + 1);
      assert.equal(run.state, 'running');
      await assert.rejects(run.machine.saveSnapshot(files), invalidState, 'running');
      assert.ok(!existsSync(files.stateFile) && !existsSync(files.ramFile), 'no file was written');
      await run.untilCount(snapshot().count + 2);
    });
  });
});
