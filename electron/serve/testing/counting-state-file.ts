/**
 * The counting machine's snapshot files (scripted-machines.ts): a stand-in for the native core's
 * state.nbsnap and ram.bin (docs/snapshot-format.md) with the same rules where they matter to
 * the VM host and the snapshot store — written to temp files that are synced and renamed (RAM
 * first), checked completely before anything changes, and refused with SNAPSHOT_UNUSABLE and a
 * `snapshotProblem` when they cannot be used.
 *
 * State file: magic `NBCOUNT\n`, u32 format version, u32 length, that many bytes of JSON
 * (CountingState), u32 CRC-32 of everything before it. Little-endian.
 * RAM file: exactly `ramBytes` long, sparse; page 0 holds the counter (u64) and page 1 a marker.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { NativeError, SnapshotProblem } from '../../services/native/native-addon.ts';

export const COUNTING_STATE_MAGIC = 'NBCOUNT\n';
export const COUNTING_STATE_VERSION = 1;
export const PAGE_BYTES = 4096;
/** At page 1 of every RAM file, so a truncated or foreign file is noticed. */
export const RAM_MARKER = 'counting machine RAM';

/** What the counting machine saves: its counter and the hardware it ran on. */
export interface CountingState {
  counter: number;
  memoryMiB: number;
  cpus: number;
  /** How many disks it had. */
  disks: number;
  ramBytes: number;
  savedAt: string;
}

export function encodeCountingState(state: CountingState): Buffer {
  const json = Buffer.from(JSON.stringify(state), 'utf8');
  const head = Buffer.alloc(16);
  head.write(COUNTING_STATE_MAGIC, 0, 'latin1');
  head.writeUInt32LE(COUNTING_STATE_VERSION, 8);
  head.writeUInt32LE(json.length, 12);
  const body = Buffer.concat([head, json]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body), 0);
  return Buffer.concat([body, crc]);
}

export function snapshotUnusable(file: string, problem: SnapshotProblem, why: string): NativeError {
  return Object.assign(new Error(`${file}: ${why} (${problem})`), {
    code: 'SNAPSHOT_UNUSABLE' as const,
    snapshotProblem: problem,
  });
}

/** Parses a state file's bytes; throws SNAPSHOT_UNUSABLE naming `file` when they are not one. */
export function decodeCountingState(file: string, bytes: Buffer): CountingState {
  if (bytes.length < 8) throw snapshotUnusable(file, 'truncated', 'shorter than its header');
  if (bytes.subarray(0, 8).toString('latin1') !== COUNTING_STATE_MAGIC) {
    throw snapshotUnusable(file, 'not-a-snapshot', 'not a counting-machine state file');
  }
  if (bytes.length < 16) throw snapshotUnusable(file, 'truncated', 'shorter than its header');
  const version = bytes.readUInt32LE(8);
  if (version > COUNTING_STATE_VERSION) {
    throw snapshotUnusable(file, 'newer-format', `format version ${version}`);
  }
  if (version < COUNTING_STATE_VERSION) {
    throw snapshotUnusable(file, 'older-format', `format version ${version}`);
  }
  const length = bytes.readUInt32LE(12);
  if (bytes.length < 16 + length + 4) throw snapshotUnusable(file, 'truncated', 'cut short');
  if (bytes.length > 16 + length + 4) throw snapshotUnusable(file, 'malformed', 'trailing bytes');
  const body = bytes.subarray(0, 16 + length);
  if (bytes.readUInt32LE(16 + length) !== crc32(body)) {
    throw snapshotUnusable(file, 'bad-checksum', 'the CRC does not match');
  }
  let state: unknown;
  try {
    state = JSON.parse(body.subarray(16).toString('utf8'));
  } catch {
    throw snapshotUnusable(file, 'malformed', 'the state is not JSON');
  }
  const record = state as Partial<CountingState> | null;
  const numbers = ['counter', 'memoryMiB', 'cpus', 'disks', 'ramBytes'] as const;
  if (
    typeof record !== 'object' ||
    record === null ||
    numbers.some((key) => !Number.isSafeInteger(record[key]) || (record[key] ?? -1) < 0)
  ) {
    throw snapshotUnusable(file, 'malformed', 'the state lacks a field');
  }
  return record as CountingState;
}

/** Reads a RAM file's size and its page 0 counter; throws SNAPSHOT_UNUSABLE when unusable. */
export function readCountingRam(file: string, ramBytes: number): { counter: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw snapshotUnusable(file, 'io', (error as Error).message);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < ramBytes) throw snapshotUnusable(file, 'truncated', `${size} of ${ramBytes} bytes`);
    if (size > ramBytes) throw snapshotUnusable(file, 'mismatch', `${size}, not ${ramBytes} bytes`);
    const pages = Buffer.alloc(2 * PAGE_BYTES);
    readSync(fd, pages, 0, pages.length, 0);
    const marker = pages.subarray(PAGE_BYTES, PAGE_BYTES + RAM_MARKER.length).toString('latin1');
    if (marker !== RAM_MARKER) throw snapshotUnusable(file, 'malformed', 'not counting RAM');
    return { counter: Number(pages.readBigUInt64LE(0)) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and checks a snapshot's files completely, as addon.describeSnapshot does; throws
 * SNAPSHOT_UNUSABLE. Without `ramFile` (a take's disk switch) only the state file is read.
 */
export function readCountingSnapshot(files: { stateFile: string; ramFile?: string }): {
  state: CountingState;
  ramCounter: number | null;
} {
  let bytes: Buffer;
  try {
    bytes = readFileSync(files.stateFile);
  } catch (error) {
    throw snapshotUnusable(files.stateFile, 'io', (error as Error).message);
  }
  const state = decodeCountingState(files.stateFile, bytes);
  const ramCounter =
    files.ramFile === undefined ? null : readCountingRam(files.ramFile, state.ramBytes).counter;
  return { state, ramCounter };
}

/** The counter a snapshot's state file saved (for tests). */
export function savedCounter(stateFile: string): number {
  return readCountingSnapshot({ stateFile }).state.counter;
}

/** The bytes the counting machine writes at sector 0 of its first disk: u64 LE, then text. */
export function sectorBytes(counter: number): Uint8Array {
  const sector = Buffer.alloc(512);
  sector.writeBigUInt64LE(BigInt(counter), 0);
  sector.write(`count ${counter}\n`, 8, 'latin1');
  return sector;
}

/** The counter in a sector the counting machine wrote (0 for a blank disk). */
export function counterInSector(sector: Uint8Array): number {
  return Number(Buffer.from(sector.buffer, sector.byteOffset, 8).readBigUInt64LE(0));
}
