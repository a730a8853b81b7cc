/**
 * Snapshot take and revert of a running VM whose RAM is full of random data (no zero pages
 * to skip), for 512 MiB, 2 GiB and 8 GiB of RAM, beside QEMU's savevm and loadvm for the
 * same RAM sizes in the same run. Target: revert well under 100 ms at every size and at least
 * 10× faster than QEMU's loadvm. Timing is printed, never asserted.
 *
 * Nestbox (needs a KVM device node; without one this half prints why it was not measured):
 * the fill-ram guest (native/test/guests/fill-ram.c) fills all its RAM above 2 MiB with
 * xorshift64 output in ring 3, then prints "tick <n>" about 12 times a second. Through the
 * addon, as the VM host does it (electron/services/vm-host/host-snapshots.ts):
 * - take: pause → machine.saveSnapshot({ stateFile, ramFile }) → resume (the guest has no
 *   disks, so there are no overlays to switch to);
 * - revert: pause → machine.restoreSnapshot({ stateFile, ramFile }, []) → resume, in place,
 *   after the guest has ticked on; the guest must then continue from the snapshot's tick;
 * - cold revert: a new Machine with `restore` (what starting a suspended VM does) → start(),
 *   until the guest ticks from the snapshot's tick.
 * The RAM file is mapped copy-on-write on revert, so pages are read when the guest touches
 * them: the revert figure does not include reading RAM back, which QEMU's loadvm does.
 *
 * QEMU (qemu-system-x86_64 and qemu-img, Debian qemu-system-x86 and qemu-utils, which
 * scripts/setup-system.sh installs; a benchmark peer only): TCG, so it runs without KVM too,
 * its vCPU never started (-S: nothing runs, nothing changes RAM). Its RAM is a file of random
 * bytes mapped privately (memory-backend-file, share=off) and preallocated (prealloc=on
 * writes every page once at start-up, so RAM is resident private memory holding the random
 * bytes, as a running guest's would be, and loadvm pays no copy-on-write faults); savevm
 * writes it into a qcow2 disk's internal snapshot and loadvm reads it back, through QMP's
 * human-monitor-command. Each figure is the time from sending the command to QEMU's answer.
 *
 * Each figure is the median of NESTBOX_BENCH_SNAPSHOT_RUNS runs (default 3). Sizes:
 * NESTBOX_BENCH_SNAPSHOT_SIZES (default "512M,2G,8G"; M and G suffixes). Files go to a fresh
 * folder in the temporary directory (TMPDIR), removed at the end; a size whose files would
 * not fit in its free space is skipped with a message. The 8 GiB size needs about 17 GiB free
 * for QEMU (the RAM file and the saved state) and 8 GiB of free host memory for each VM.
 *
 * Run: node --import tsx bench/snapshot.bench.ts
 */
import { randomFillSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvmSkipReason } from '../native/test/kvm-for-tests.ts';
import { buildGuests } from '../native/test/guests/build-guests.ts';
import { locateNativeAddon } from '../electron/services/native/load-addon.ts';
import { MachineSession } from '../electron/services/native/machine-session.ts';
import { kvmDevicePath } from '../electron/services/native/kvm-device.ts';
import type {
  MachineConfig,
  NativeAddon,
  SnapshotFiles,
} from '../electron/services/native/native-addon.ts';
import { QEMU, QmpProcess, hasCommand, hasQemu, median, speedup } from './bench-support.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DEFAULT_SIZES = '512M,2G,8G';
const RUNS = Math.max(1, Number(process.env.NESTBOX_BENCH_SNAPSHOT_RUNS ?? '3') || 3);
/** fill-ram.c's spin=: rounds of 2^20 two-instruction iterations between ticks (~80 ms). */
const SPIN_ROUNDS = 100;
/** Ticks the guest runs on between a take and a revert, so the revert visibly goes back. */
const TICKS_BEFORE_REVERT = 5;
/**
 * How far past the tick last seen at a take the guest may be when it continues from that
 * snapshot: serial output may arrive after the pause, and the pause may land mid-line.
 */
const TICK_SLACK = 3;
const TICK_TIMEOUT_MS = 30_000;
const TARGET_REVERT_MS = 100;
const TARGET_SPEEDUP = 10;

/** Generous timeouts per GiB: the CI machines emulate the guest's CPL-0 set-up. */
const perSize = (bytes: number, baseMs: number, perGiBMs: number) =>
  baseMs + Math.ceil(bytes / GiB) * perGiBMs;

function parseSizes(text: string): number[] {
  return text.split(',').map((item) => {
    const match = /^\s*(\d+)\s*([MG])i?B?\s*$/i.exec(item);
    if (!match) {
      console.error(`NESTBOX_BENCH_SNAPSHOT_SIZES: "${item}" is not a size like 512M or 2G`);
      process.exit(2);
    }
    const bytes = Number(match[1]) * (match[2]?.toUpperCase() === 'G' ? GiB : MiB);
    if (bytes < 64 * MiB || bytes % (2 * MiB) !== 0) {
      console.error(`NESTBOX_BENCH_SNAPSHOT_SIZES: ${item} must be at least 64M, in 2 MiB steps`);
      process.exit(2);
    }
    return bytes;
  });
}

const sizeLabel = (bytes: number) =>
  bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`;
const ms = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(1));
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Free bytes in the file system holding `path`. */
function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

/** Runs of one measurement, or why there are none. */
type Runs = { ok: true; runs: number[] } | { ok: false; why: string };

interface OurFigures {
  take: Runs;
  revert: Runs;
  coldRevert: Runs;
}

interface QemuFigures {
  savevm: Runs;
  loadvm: Runs;
}

const failed = (why: string): Runs => ({ ok: false, why });

// ---- Nestbox: the fill-ram guest through the addon ----

/** One machine running fill-ram: its serial output and the ticks seen. */
class FillRamRun {
  readonly session: MachineSession;
  serial = '';
  readonly #decoder = new TextDecoder();
  #ended: string | undefined;

  constructor(addon: NativeAddon, config: MachineConfig) {
    this.session = new MachineSession(addon, config);
    this.session.on('serial', (event) => {
      this.serial += this.#decoder.decode(event.data, { stream: true });
    });
    void this.session.ended.then((ending) => {
      this.#ended = `the machine ${ending.state} (${ending.reason ?? 'no reason'})${
        ending.error ? `: ${ending.error.message}` : ''
      }`;
    });
  }

  /** Ticks printed since serial offset `from` (a partial first line is skipped). */
  ticks(from = 0): number[] {
    const found: number[] = [];
    for (const match of this.serial.slice(from).matchAll(/(?:^|\n)tick (\d+)\n/g)) {
      found.push(Number(match[1]));
    }
    return found;
  }

  lastTick(from = 0): number {
    return this.ticks(from).at(-1) ?? 0;
  }

  async until(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      if (this.#ended) throw new Error(`waiting for ${what}: ${this.#ended}`);
      if (performance.now() > deadline) {
        throw new Error(
          `no ${what} within ${timeoutMs / 1000} s; serial ends ${JSON.stringify(this.serial.slice(-200))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  close(): void {
    this.session.close();
  }
}

async function measureOurs(
  addon: NativeAddon,
  kernelPath: string,
  bytes: number,
  scratch: string,
): Promise<OurFigures> {
  const notMeasured = (why: string): OurFigures => ({
    take: failed(why),
    revert: failed(why),
    coldRevert: failed(why),
  });
  // The kept snapshot and one more take at a time.
  const needed = (RUNS > 1 ? 2 : 1) * bytes + 256 * MiB;
  if (freeBytes(scratch) < needed) {
    return notMeasured(`needs ${sizeLabel(needed)} free in ${scratch}`);
  }
  const config: MachineConfig = {
    kernelPath,
    cmdline: `spin=${SPIN_ROUNDS}`,
    memoryMiB: bytes / MiB,
    cpus: 1,
    entropy: false,
    display: null,
    kvmDevicePath: kvmDevicePath(process.env),
  };
  const files = (name: string): SnapshotFiles => ({
    stateFile: join(scratch, `${name}.state`),
    ramFile: join(scratch, `${name}.ram`),
  });
  const removeFiles = (snapshot: SnapshotFiles) => {
    rmSync(snapshot.stateFile, { force: true });
    rmSync(snapshot.ramFile, { force: true });
  };
  const kept = files('snapshot');
  const take: number[] = [];
  const revert: number[] = [];
  const coldRevert: number[] = [];
  let takeTick = 0;

  let run: FillRamRun | undefined;
  try {
    const live = new FillRamRun(addon, config);
    run = live;
    live.session.start();
    await live.until('"fill-ram: filled"', perSize(bytes, 60_000, 30_000), () =>
      live.serial.includes('fill-ram: filled'),
    );
    await live.until('tick 1', TICK_TIMEOUT_MS, () => live.lastTick() >= 1);

    // Take: pause, save, resume. The first snapshot is kept for the reverts.
    for (let i = 0; i < RUNS; ++i) {
      const target = i === 0 ? kept : files(`take-${i}`);
      const before = live.lastTick();
      await live.until(`tick ${before + 1}`, TICK_TIMEOUT_MS, () => live.lastTick() > before);
      const began = performance.now();
      await live.session.pause();
      const saved = await live.session.saveSnapshot(target);
      live.session.resume();
      take.push(performance.now() - began);
      if (i === 0) {
        takeTick = live.lastTick();
        if (saved.ramBytesWritten < bytes * 0.9) {
          console.log(
            `  note: only ${saved.ramBytesWritten} of ${saved.ramBytes} RAM bytes were non-zero`,
          );
        }
      } else {
        removeFiles(target);
      }
    }

    // Revert in place, each after the guest has ticked on past the snapshot.
    for (let i = 0; i < RUNS; ++i) {
      await live.until(`tick ${takeTick + TICKS_BEFORE_REVERT}`, TICK_TIMEOUT_MS, () => {
        return live.lastTick() >= takeTick + TICKS_BEFORE_REVERT;
      });
      const began = performance.now();
      await live.session.pause();
      await live.session.restoreSnapshot(kept, []);
      live.session.resume();
      revert.push(performance.now() - began);
      // Serial output from before the pause may still arrive: wait for the ticks to go back.
      const mark = live.serial.length;
      const wentBack = () => live.ticks(mark).some((tick) => tick <= takeTick + TICK_SLACK);
      await live.until(
        `tick ${takeTick + 1} again after revert ${i + 1}`,
        TICK_TIMEOUT_MS,
        wentBack,
      );
    }
  } catch (error) {
    removeFiles(kept);
    return notMeasured(messageOf(error));
  } finally {
    run?.close();
  }

  // Cold revert: a new machine from the snapshot, started.
  try {
    for (let i = 0; i < RUNS; ++i) {
      const began = performance.now();
      const restored = new FillRamRun(addon, { ...config, restore: kept });
      try {
        restored.session.start();
        coldRevert.push(performance.now() - began);
        await restored.until('a tick after the restore', TICK_TIMEOUT_MS, () => {
          return restored.ticks().length > 0;
        });
        const first = restored.ticks()[0] ?? 0;
        if (first > takeTick + TICK_SLACK) {
          throw new Error(`the restored guest printed tick ${first} (snapshot at ${takeTick})`);
        }
      } finally {
        restored.close();
      }
    }
  } catch (error) {
    return {
      take: { ok: true, runs: take },
      revert: { ok: true, runs: revert },
      coldRevert: failed(messageOf(error)),
    };
  } finally {
    removeFiles(kept);
  }
  return {
    take: { ok: true, runs: take },
    revert: { ok: true, runs: revert },
    coldRevert: { ok: true, runs: coldRevert },
  };
}

// ---- QEMU: savevm and loadvm of random RAM, TCG, vCPU stopped ----

/** Writes `bytes` random bytes to `path` (64 MiB at a time). */
async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const chunk = Buffer.allocUnsafe(64 * MiB);
  const file = await open(path, 'w', 0o600);
  try {
    for (let done = 0; done < bytes; done += chunk.length) {
      const length = Math.min(chunk.length, bytes - done);
      randomFillSync(chunk, 0, length);
      await file.write(chunk, 0, length, done);
    }
  } finally {
    await file.close();
  }
}

function qemuArgs(bytes: number, ramFile: string, diskFile: string): string[] {
  return [
    '-accel',
    'tcg',
    '-machine',
    'pc,memory-backend=ram',
    '-m',
    `${bytes / MiB}M`,
    '-object',
    `memory-backend-file,id=ram,size=${bytes / MiB}M,mem-path=${ramFile},share=off,prealloc=on`,
    '-nodefaults',
    '-display',
    'none',
    '-S',
    '-drive',
    `file=${diskFile},format=qcow2,if=none,id=disk0`,
    '-device',
    'virtio-blk-pci,drive=disk0',
  ];
}

/** The QEMU running now, for the signal handler to stop. */
let runningQemu: QmpProcess | undefined;

async function measureQemu(bytes: number, scratch: string): Promise<QemuFigures> {
  const notMeasured = (why: string): QemuFigures => ({ savevm: failed(why), loadvm: failed(why) });
  // The RAM file, the saved state in the qcow2 file (about the RAM's size) and some room.
  const needed = 2 * bytes + 512 * MiB;
  if (freeBytes(scratch) < needed) {
    return notMeasured(`needs ${sizeLabel(needed)} free in ${scratch}`);
  }
  const ramFile = join(scratch, 'qemu-ram.bin');
  const diskFile = join(scratch, 'qemu-disk.qcow2');
  const savevm: number[] = [];
  const loadvm: number[] = [];
  let qemu: QmpProcess | undefined;
  try {
    await writeRandomFile(ramFile, bytes);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', diskFile, '64M']);
    const timeoutMs = perSize(bytes, 30_000, 30_000);
    qemu = await QmpProcess.start(qemuArgs(bytes, ramFile, diskFile), timeoutMs);
    runningQemu = qemu;
    for (let i = 0; i < RUNS; ++i) {
      const tag = `bench-${i}`;
      let began = performance.now();
      await qemu.hmp(`savevm ${tag}`, timeoutMs);
      savevm.push(performance.now() - began);
      began = performance.now();
      await qemu.hmp(`loadvm ${tag}`, timeoutMs);
      loadvm.push(performance.now() - began);
      // Untimed: keep the qcow2 file from growing by the RAM size every run.
      await qemu.hmp(`delvm ${tag}`, timeoutMs);
    }
    await qemu.quit();
  } catch (error) {
    qemu?.kill();
    return notMeasured(messageOf(error));
  } finally {
    runningQemu = undefined;
    rmSync(ramFile, { force: true });
    rmSync(diskFile, { force: true });
  }
  return { savevm: { ok: true, runs: savevm }, loadvm: { ok: true, runs: loadvm } };
}

// ---- the run ----

const middle = (figure: Runs | undefined) =>
  figure?.ok === true ? median(figure.runs) : undefined;
const runsText = (figure: Runs) =>
  figure.ok ? figure.runs.map((value) => value.toFixed(0)).join(', ') + ' ms' : figure.why;

const sizes = parseSizes(process.env.NESTBOX_BENCH_SNAPSHOT_SIZES ?? DEFAULT_SIZES);
const skipReason = kvmSkipReason();
let addon: NativeAddon | undefined;
let kernelPath = '';
if (skipReason === false) {
  addon = locateNativeAddon().addon;
  kernelPath = buildGuests().elf['fill-ram'];
} else {
  console.log(`Nestbox: not measured: ${skipReason}; QEMU's figures follow alone`);
}
const qemuMissing = !hasQemu()
  ? `${QEMU} is not installed (Debian package qemu-system-x86)`
  : !hasCommand('qemu-img')
    ? 'qemu-img is not installed (Debian package qemu-utils)'
    : undefined;
if (qemuMissing) console.log(`QEMU: not measured: ${qemuMissing}`);

const scratch = mkdtempSync(join(tmpdir(), 'nestbox-snapshot-bench-'));
// Interrupted: QEMU is stopped and the files (many GiB) removed even then.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    runningQemu?.kill();
    rmSync(scratch, { recursive: true, force: true });
    process.exit(130);
  });
}
const rows: { bytes: number; ours?: OurFigures; qemu?: QemuFigures }[] = [];
let anyFailure = false;
try {
  console.log(`snapshot take/revert, random RAM, median of ${RUNS}; files in ${scratch}`);
  for (const bytes of sizes) {
    const row: (typeof rows)[number] = { bytes };
    rows.push(row);
    if (addon) {
      row.ours = await measureOurs(addon, kernelPath, bytes, scratch);
      const { take, revert, coldRevert } = row.ours;
      console.log(
        !take.ok && !revert.ok && !coldRevert.ok && take.why === revert.why
          ? `${sizeLabel(bytes)} Nestbox: not measured: ${take.why}`
          : `${sizeLabel(bytes)} Nestbox: take ${runsText(take)}; revert ${runsText(revert)}; ` +
              `cold revert ${runsText(coldRevert)}`,
      );
      anyFailure ||= !row.ours.take.ok || !row.ours.revert.ok || !row.ours.coldRevert.ok;
    }
    if (!qemuMissing) {
      row.qemu = await measureQemu(bytes, scratch);
      console.log(
        `${sizeLabel(bytes)} QEMU: savevm ${runsText(row.qemu.savevm)}; loadvm ${runsText(row.qemu.loadvm)}`,
      );
      anyFailure ||= !row.qemu.savevm.ok || !row.qemu.loadvm.ok;
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const header = [
  'RAM',
  'take ms',
  'revert ms',
  'cold revert ms',
  'QEMU savevm ms',
  'QEMU loadvm ms',
  'savevm÷take',
  'loadvm÷revert',
  'loadvm÷cold',
];
const table = rows.map(({ bytes, ours, qemu }) => {
  const take = middle(ours?.take);
  const revert = middle(ours?.revert);
  const cold = middle(ours?.coldRevert);
  const savevm = middle(qemu?.savevm);
  const loadvm = middle(qemu?.loadvm);
  return [
    sizeLabel(bytes),
    ms(take),
    ms(revert),
    ms(cold),
    ms(savevm),
    ms(loadvm),
    speedup(savevm, take),
    speedup(loadvm, revert),
    speedup(loadvm, cold),
  ];
});
const widths = header.map((title, column) =>
  Math.max(title.length, ...table.map((cells) => (cells[column] ?? '').length)),
);
const line = (cells: string[]) =>
  cells.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  ');
console.log('');
console.log(line(header));
for (const cells of table) console.log(line(cells));
console.log(
  `(ratios are QEMU ÷ Nestbox: how many times faster Nestbox is; target: revert under ` +
    `${TARGET_REVERT_MS} ms and loadvm÷revert at least ${TARGET_SPEEDUP}× at every size)`,
);
if (!addon) console.log('(Nestbox columns: not measured, see the first line)');
process.exit(anyFailure ? 1 : 0);
