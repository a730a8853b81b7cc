/**
 * qcow2 throughput of our block layer (native/src/block, timed in a small native
 * binary built by bench/native/Makefile, so no N-API cost is included) beside
 * `qemu-img bench` on identical files in the same run: sequential 64 KiB writes
 * into a fresh image and reads back, and 4 KiB "random" reads and writes. Both
 * tools use qemu-img bench's offset sequence (advance by a fixed step of 257 × 4 KiB,
 * wrap at the disk size), one request at a time, through the page cache
 * (qemu-img bench -t writeback -d 1). Median of RUNS runs; MB/s and ratios.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositoryRoot } from '../native/test/guests/run-nestbox.ts';
import { median } from './bench-support.ts';

const RUNS = 3;
const DISK = '512M';
const BENCH_BINARY = join(repositoryRoot, 'bench', 'native', 'out', 'disk_image_bench');

interface Workload {
  name: string;
  write: boolean;
  bufferSize: number;
  step: number;
  count: number;
  /** Run on a freshly created image (else on one filled sequentially first). */
  fresh: boolean;
}

const WORKLOADS: Workload[] = [
  {
    name: 'sequential write 64 KiB (allocating)',
    write: true,
    bufferSize: 65536,
    step: 65536,
    count: 4096,
    fresh: true,
  },
  {
    name: 'sequential read 64 KiB',
    write: false,
    bufferSize: 65536,
    step: 65536,
    count: 4096,
    fresh: false,
  },
  {
    name: 'random write 4 KiB (allocating)',
    write: true,
    bufferSize: 4096,
    step: 257 * 4096,
    count: 20000,
    fresh: true,
  },
  {
    name: 'random write 4 KiB (allocated)',
    write: true,
    bufferSize: 4096,
    step: 257 * 4096,
    count: 20000,
    fresh: false,
  },
  {
    name: 'random read 4 KiB',
    write: false,
    bufferSize: 4096,
    step: 257 * 4096,
    count: 20000,
    fresh: false,
  },
];

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: repositoryRoot });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return result.stdout;
}

function prepareImage(file: string, filled: boolean): void {
  rmSync(file, { force: true });
  run('qemu-img', ['create', '-q', '-f', 'qcow2', file, DISK]);
  if (filled) {
    run('qemu-img', [
      'bench',
      '-q',
      '-w',
      '-f',
      'qcow2',
      '-t',
      'writeback',
      '-c',
      '8192',
      '-s',
      '65536',
      '-S',
      '65536',
      file,
    ]);
  }
}

function ours(file: string, w: Workload): number {
  const [bytes, seconds] = run(BENCH_BINARY, [
    file,
    w.write ? 'write' : 'read',
    String(w.bufferSize),
    String(w.step),
    String(w.count),
  ])
    .trim()
    .split(' ')
    .map(Number);
  return (bytes ?? 0) / 1e6 / (seconds ?? NaN);
}

function qemu(file: string, w: Workload): number {
  const output = run('qemu-img', [
    'bench',
    ...(w.write ? ['-w'] : []),
    '-f',
    'qcow2',
    '-t',
    'writeback',
    '-d',
    '1',
    '-c',
    String(w.count),
    '-s',
    String(w.bufferSize),
    '-S',
    String(w.step),
    file,
  ]);
  const seconds = Number(/Run completed in ([\d.]+) seconds/.exec(output)?.[1]);
  return (w.count * w.bufferSize) / 1e6 / seconds;
}

function main(): void {
  const build = spawnSync('make', ['-s', '-C', join(repositoryRoot, 'bench', 'native')], {
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error('building bench/native failed');
  const dir = mkdtempSync(join(tmpdir(), 'nestbox-disk-bench-'));
  try {
    const file = join(dir, 'bench.qcow2');
    console.log(
      `qcow2, ${DISK} disk, 64 KiB clusters, page cache, one request at a time; median of ${RUNS}`,
    );
    console.log(
      'workload                                   nestbox MB/s   qemu-img MB/s   nestbox/qemu',
    );
    for (const w of WORKLOADS) {
      const mine: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        prepareImage(file, !w.fresh);
        mine.push(ours(file, w));
        prepareImage(file, !w.fresh);
        theirs.push(qemu(file, w));
      }
      const a = median(mine);
      const b = median(theirs);
      console.log(
        `${w.name.padEnd(42)} ${a.toFixed(1).padStart(12)}   ${b.toFixed(1).padStart(13)}   ${(a / b).toFixed(2).padStart(12)}x`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
