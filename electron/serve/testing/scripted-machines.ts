/**
 * Machines for the real VM host without /dev/kvm (scripted-vm-host-main.ts), and the addon
 * around them: `probeKvm` says yes, `Machine` is one of these, and the disk-image functions
 * are the real addon's (the snapshot store makes and merges real qcow2 layers with them).
 *
 * - `echo` behaves like the echo test guest: prints "echo ready", echoes serial input (none
 *   while paused) and shows a fixed 1024×768 picture. It cannot save snapshots.
 * - `counting` counts: while running it adds one to a counter every tick (20 ms), prints
 *   "count <n>" and writes n into sector 0 of its first disk, through the addon's real disk
 *   API on the files the VM host gives it (the snapshot tree's current overlays). It saves and
 *   continues snapshots with the native core's semantics (docs/snapshot-format.md), in a file
 *   format of its own (counting-state-file.ts): saveSnapshot only while paused, after draining
 *   and flushing its disk writes; a machine made with `restore`, and restoreSnapshot in place,
 *   check everything first (SNAPSHOT_UNUSABLE before anything changes) and continue at the
 *   saved counter, on the disks given. What it read from its disk when it (re)started is on
 *   serial, so tests can check memory against disks:
 *
 *     boot disk <d>               booted afresh; sector 0 held d
 *     resumed <c> disk <d>        made with `restore`: continues at c (the next count is c + 1)
 *     restored <c> disk <d>       restoreSnapshot with a RAM file
 *     switched <c> disk <d>       restoreSnapshot without one (a take moving to new overlays)
 *     count <n>
 *
 * Environment (of the VM host process), to widen the windows a test kills the host in:
 * NESTBOX_SCRIPTED_SAVE_MS (saveSnapshot takes at least this long, reporting progress along
 * the way), NESTBOX_SCRIPTED_RESTORE_MS (restoreSnapshot waits this long after its checks),
 * NESTBOX_SCRIPTED_TICK_MS (default 20); and NESTBOX_SCRIPTED_MERGE_MS makes the addon's
 * imageMergeLayer take that long (as merging a large layer does), asynchronously.
 */
import { PNG } from 'pngjs';
import { existsSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskImageHandle } from '../../services/native/disk-image.ts';
import type {
  DiskConfig,
  DisplayMode,
  Machine,
  MachineConfig,
  MachineEvent,
  MachineState,
  NativeAddon,
  NativeError,
  SnapshotDescription,
  SnapshotFiles,
  SnapshotSaveResult,
  StopReason,
} from '../../services/native/native-addon.ts';
import {
  PAGE_BYTES,
  RAM_MARKER,
  counterInSector,
  encodeCountingState,
  readCountingSnapshot,
  sectorBytes,
  snapshotUnusable,
  type CountingState,
} from './counting-state-file.ts';

export type ScriptedMachineKind = 'echo' | 'counting';

export const scriptedMachineKinds: readonly ScriptedMachineKind[] = ['echo', 'counting'];

/** Selects the machine when the launcher cannot pass `--machine` (e.g. NESTBOX_VM_HOST). */
export const SCRIPTED_MACHINE_VARIABLE = 'NESTBOX_SCRIPTED_MACHINE';
/** The environment variables the counting machine reads (see above). */
export const SCRIPTED_SAVE_MS = 'NESTBOX_SCRIPTED_SAVE_MS';
export const SCRIPTED_RESTORE_MS = 'NESTBOX_SCRIPTED_RESTORE_MS';
export const SCRIPTED_TICK_MS = 'NESTBOX_SCRIPTED_TICK_MS';
/** imageMergeLayer waits this long first, as merging a large layer takes (default 0). */
export const SCRIPTED_MERGE_MS = 'NESTBOX_SCRIPTED_MERGE_MS';

const MiB = 1024 * 1024;
const mode: DisplayMode = { width: 1024, height: 768, bitsPerPixel: 32 };

function nativeError(code: NativeError['code'], message: string): NativeError {
  return Object.assign(new Error(message), { code });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What both machines share: state events, the fixed picture, input that goes nowhere. */
abstract class ScriptedMachine {
  state: MachineState = 'created';
  protected readonly onEvent: (event: MachineEvent) => void;
  readonly #pixels = new Uint8Array(mode.width * mode.height * 4);

  constructor(onEvent: (event: MachineEvent) => void) {
    this.onEvent = onEvent;
    for (let i = 0; i < this.#pixels.length; i += 1) this.#pixels[i] = (i * 7) & 0xff;
    this.emitLater({ type: 'display-mode', mode });
  }

  /** As the addon delivers events: later, on the JS thread, never inside the call. */
  protected emitLater(event: MachineEvent): void {
    setImmediate(() => this.onEvent(event));
  }

  protected serial(text: string): void {
    this.onEvent({ type: 'serial', data: new TextEncoder().encode(text) });
  }

  protected setState(state: MachineState, reason?: StopReason): void {
    this.state = state;
    this.emitLater(reason ? { type: 'state', state, reason } : { type: 'state', state });
  }

  protected requireState(allowed: readonly MachineState[], what: string): void {
    if (!allowed.includes(this.state)) {
      throw nativeError('INVALID_STATE', `${what}: the machine is ${this.state}`);
    }
  }

  reset(): void {
    this.emitLater({ type: 'reset', cause: 'host', reboot: true });
  }
  powerButton(): void {
    this.powerOff();
  }
  abstract powerOff(): void;
  stats() {
    return {
      unknownPortReads: 0,
      unknownPortWrites: 0,
      unknownMmioReads: 0,
      unknownMmioWrites: 0,
      serialBytesOut: 0,
      resets: 0,
    };
  }
  setDisplayStreaming(): void {}
  requestFullDisplayFrame(): void {}
  readDisplayFrame() {
    return { mode, pixels: this.#pixels.slice() };
  }
  copyDisplayRects(target: Uint8Array): boolean {
    if (target.length !== this.#pixels.length) return false;
    target.set(this.#pixels);
    return true;
  }
  /** The picture as a real PNG (the UI shows it as the VM's thumbnail). */
  screenshot(): Uint8Array {
    const png = new PNG({ width: mode.width, height: mode.height });
    // The frame is B, G, R, X; PNG wants R, G, B, A.
    for (let i = 0; i < this.#pixels.length; i += 4) {
      png.data[i] = this.#pixels[i + 2] ?? 0;
      png.data[i + 1] = this.#pixels[i + 1] ?? 0;
      png.data[i + 2] = this.#pixels[i] ?? 0;
      png.data[i + 3] = 0xff;
    }
    return PNG.sync.write(png);
  }
  sendKey(): boolean {
    return true;
  }
  sendKeyCombo(): boolean {
    return true;
  }
  pointerMove(): boolean {
    return true;
  }
  pointerButton(): boolean {
    return true;
  }
  wheel(): boolean {
    return true;
  }
  releaseAllInput(): void {}
}

/** The `echo` test guest's behaviour. */
class EchoMachine extends ScriptedMachine {
  /** Input the "guest" has not read yet (it reads nothing while paused). */
  #unread: number[] = [];

  constructor(_config: MachineConfig, onEvent: (event: MachineEvent) => void) {
    super(onEvent);
  }

  #echo(): void {
    if (this.state !== 'running' || this.#unread.length === 0) return;
    const data = Uint8Array.from(this.#unread.splice(0));
    this.emitLater({ type: 'serial', data });
  }

  start(): void {
    this.setState('running');
    this.emitLater({ type: 'serial', data: new TextEncoder().encode('echo ready\n') });
  }
  pause(): void {
    this.setState('paused');
  }
  resume(): void {
    this.setState('running');
    this.#echo();
  }
  powerOff(): void {
    if (this.state === 'stopped') return;
    this.setState('stopped', 'powered-off');
  }
  sendSerialInput(data: Uint8Array): number {
    this.#unread.push(...data);
    this.#echo();
    return data.byteLength;
  }
  close(): void {
    this.state = 'stopped';
  }
  saveSnapshot(): Promise<SnapshotSaveResult> {
    return Promise.reject(nativeError('INVALID_STATE', 'the echo machine keeps no snapshots'));
  }
  restoreSnapshot(): Promise<void> {
    return Promise.reject(nativeError('INVALID_STATE', 'the echo machine keeps no snapshots'));
  }
}

export interface CountingOptions {
  /** The real addon's disk API. */
  disks: Pick<NativeAddon, 'openDiskImage'>;
  saveDelayMs: number;
  restoreDelayMs: number;
  tickMs: number;
}

/** A saved state must be of this hardware, as the native core refuses a `mismatch`. */
function checkHardware(file: string, saved: CountingState, config: MachineConfig, disks: number) {
  const differences: string[] = [];
  if (saved.memoryMiB !== config.memoryMiB) {
    differences.push(`memory ${saved.memoryMiB} MiB, now ${config.memoryMiB}`);
  }
  if (saved.cpus !== config.cpus) differences.push(`${saved.cpus} vCPUs, now ${config.cpus}`);
  if (saved.disks !== disks) differences.push(`${saved.disks} disks, now ${disks}`);
  if (saved.ramBytes !== config.memoryMiB * MiB) differences.push('RAM size');
  if (differences.length > 0) {
    throw snapshotUnusable(file, 'mismatch', `saved for other hardware: ${differences.join(', ')}`);
  }
}

/** Writes `bytes` to `file` through a synced temp file renamed over it. */
async function writeSynced(
  file: string,
  write: (handle: Awaited<ReturnType<typeof open>>) => Promise<void>,
): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await write(handle);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The counting guest (see the top of the file). */
class CountingMachine extends ScriptedMachine {
  readonly #config: MachineConfig;
  readonly #options: CountingOptions;
  #counter = 0;
  /** Set when made with `restore`: what it continues. */
  readonly #resumedFrom: number | null = null;
  #disks: DiskImageHandle[] = [];
  /** Every disk access, in order: writes, flushes, the switch to other disks, closing. */
  #io: Promise<unknown>;
  /** Counting waits for the start banner, and stops while disks switch or the machine stops. */
  #counting = false;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    config: MachineConfig,
    onEvent: (event: MachineEvent) => void,
    options: CountingOptions,
  ) {
    super(onEvent);
    this.#config = config;
    this.#options = options;
    const disks = config.disks ?? [];
    if (config.restore) {
      // Like the native core: read and check the saved machine before anything else.
      const { state, ramCounter } = readCountingSnapshot(config.restore);
      checkHardware(config.restore.stateFile, state, config, disks.length);
      if (ramCounter !== state.counter) {
        throw snapshotUnusable(config.restore.ramFile, 'mismatch', 'RAM is of another state');
      }
      this.#counter = state.counter;
      this.#resumedFrom = state.counter;
    }
    for (const disk of disks) {
      if (!existsSync(disk.path)) {
        throw nativeError('IMAGE_NOT_FOUND', `${disk.path}: no such disk image`);
      }
    }
    this.#io = this.#openDisks(disks).then(
      (handles) => {
        this.#disks = handles;
      },
      (error: unknown) => this.#fail(`opening the disks: ${messageOf(error)}`),
    );
  }

  async #openDisks(disks: readonly DiskConfig[]): Promise<DiskImageHandle[]> {
    const handles: DiskImageHandle[] = [];
    try {
      for (const disk of disks) {
        handles.push(
          await this.#options.disks.openDiskImage(disk.path, { readOnly: disk.readOnly ?? false }),
        );
      }
    } catch (error) {
      await Promise.allSettled(handles.map((handle) => handle.close()));
      throw error;
    }
    return handles;
  }

  /** Queues disk work behind what is queued; the queue goes on after a failure. */
  #onIo<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#io.then(work);
    this.#io = run.catch(() => undefined);
    return run;
  }

  #fail(message: string): void {
    this.#counting = false;
    this.#stopping = true;
    clearInterval(this.#timer);
    this.emitLater({ type: 'error', message });
    this.setState('error', 'vmm-failure');
  }

  /** Sector 0 of the first disk as the guest would read it (0: blank or no disk). */
  async #readSector(): Promise<number> {
    return this.#onIo(async () => {
      const disk = this.#disks[0];
      return disk ? counterInSector(await disk.read(0, 512)) : 0;
    });
  }

  #tick(): void {
    if (this.state !== 'running' || !this.#counting || this.#stopping) return;
    this.#counter += 1;
    const counter = this.#counter;
    this.serial(`count ${counter}\n`);
    void this.#onIo(async () => {
      const disk = this.#disks[0];
      if (disk && !disk.readOnly) await disk.write(0, sectorBytes(counter));
    }).catch((error: unknown) => {
      this.emitLater({ type: 'log', message: `disk write failed: ${messageOf(error)}` });
    });
  }

  start(): void {
    this.requireState(['created'], 'start');
    this.setState('running');
    this.#timer = setInterval(() => this.#tick(), this.#options.tickMs);
    void this.#readSector().then(
      (disk) => {
        if (this.#stopping) return;
        const resumed = this.#resumedFrom;
        this.serial(resumed === null ? `boot disk ${disk}\n` : `resumed ${resumed} disk ${disk}\n`);
        this.#counting = true;
      },
      (error: unknown) => this.#fail(`reading the disk: ${messageOf(error)}`),
    );
  }
  pause(): void {
    if (this.state === 'paused') return;
    this.requireState(['running'], 'pause');
    this.setState('paused');
  }
  resume(): void {
    this.requireState(['paused'], 'resume');
    this.setState('running');
  }
  powerOff(): void {
    if (this.#stopping || this.state === 'stopped' || this.state === 'error') return;
    this.#stopping = true;
    this.#counting = false;
    clearInterval(this.#timer);
    // Stopped once every write is on disk and the images are closed cleanly.
    void this.#onIo(() => this.#closeDisks()).finally(() => {
      if (this.state !== 'error') this.setState('stopped', 'powered-off');
    });
  }
  async #closeDisks(): Promise<void> {
    const handles = this.#disks.splice(0);
    await Promise.allSettled(handles.map((handle) => handle.close()));
  }
  sendSerialInput(data: Uint8Array): number {
    return data.byteLength;
  }
  close(): void {
    clearInterval(this.#timer);
    this.#stopping = true;
    this.#counting = false;
    if (this.state !== 'error') this.state = 'stopped';
    void this.#onIo(() => this.#closeDisks());
  }

  async saveSnapshot(
    files: SnapshotFiles,
    onProgress?: (done: number, total: number) => void,
  ): Promise<SnapshotSaveResult> {
    this.requireState(['paused'], 'saveSnapshot');
    const counter = this.#counter;
    // In-flight disk writes complete and reach the disk first, as VirtioBlk::drain and a flush.
    await this.#onIo(async () => {
      await Promise.all(this.#disks.map((disk) => disk.flush()));
    });
    const ramBytes = this.#config.memoryMiB * MiB;
    const chunks = 4;
    const chunkBytes = 16 * PAGE_BYTES;
    let written = 0;
    // RAM first (state never exists without its RAM), sparse: a few chunks of data, holes.
    await writeSynced(files.ramFile, async (handle) => {
      await handle.truncate(ramBytes);
      const first = Buffer.alloc(2 * PAGE_BYTES);
      first.writeBigUInt64LE(BigInt(counter), 0);
      first.write(RAM_MARKER, PAGE_BYTES, 'latin1');
      await handle.write(first, 0, first.length, 0);
      written += first.length;
      for (let chunk = 1; chunk <= chunks; chunk += 1) {
        onProgress?.(Math.floor(((chunk - 1) * ramBytes) / chunks), ramBytes);
        await sleep(this.#options.saveDelayMs / (chunks + 1));
        const data = Buffer.alloc(chunkBytes, (counter + chunk) & 0xff || 1);
        const at = Math.floor((chunk * ramBytes) / (chunks + 1) / PAGE_BYTES) * PAGE_BYTES;
        await handle.write(data, 0, data.length, at);
        written += data.length;
      }
    });
    onProgress?.(ramBytes, ramBytes);
    await sleep(this.#options.saveDelayMs / (chunks + 1));
    const state = encodeCountingState({
      counter,
      memoryMiB: this.#config.memoryMiB,
      cpus: this.#config.cpus,
      disks: (this.#config.disks ?? []).length,
      ramBytes,
      savedAt: new Date().toISOString(),
    });
    await writeSynced(files.stateFile, async (handle) => {
      await handle.write(state, 0, state.length, 0);
    });
    await syncDirectory(path.dirname(files.stateFile));
    if (path.dirname(files.ramFile) !== path.dirname(files.stateFile)) {
      await syncDirectory(path.dirname(files.ramFile));
    }
    return { ramBytes, ramBytesWritten: written, stateBytes: state.length };
  }

  async restoreSnapshot(
    files: { stateFile: string; ramFile?: string },
    disks: DiskConfig[],
  ): Promise<void> {
    this.requireState(['running', 'paused'], 'restoreSnapshot');
    // Everything is read and checked before anything changes.
    const { state, ramCounter } = readCountingSnapshot(files);
    const current = this.#config.disks ?? [];
    checkHardware(files.stateFile, state, this.#config, disks.length);
    if (disks.length !== current.length) {
      throw snapshotUnusable(files.stateFile, 'mismatch', `${disks.length} disks given`);
    }
    if (ramCounter !== null && ramCounter !== state.counter) {
      throw snapshotUnusable(files.ramFile ?? '', 'mismatch', 'RAM is of another state');
    }
    const opened = await this.#openDisks(disks);
    const sizes = this.#disks.map((disk) => disk.virtualSize);
    const wrongSize = opened.findIndex((disk, index) => disk.virtualSize !== sizes[index]);
    if (wrongSize >= 0) {
      await Promise.allSettled(opened.map((disk) => disk.close()));
      throw snapshotUnusable(files.stateFile, 'mismatch', `disk ${wrongSize} has another size`);
    }
    await sleep(this.#options.restoreDelayMs);
    // Now the board is replaced, as a reboot does: no counting meanwhile.
    const wasCounting = this.#counting;
    this.#counting = false;
    try {
      await this.#onIo(async () => {
        const old = this.#disks.splice(0, this.#disks.length, ...opened);
        await Promise.allSettled(old.map((disk) => disk.close()));
      });
      this.#config.disks = disks.map((disk) => ({ ...disk }));
      this.#counter = state.counter;
      const disk = await this.#readSector();
      this.serial(
        `${files.ramFile === undefined ? 'switched' : 'restored'} ${state.counter} disk ${disk}\n`,
      );
    } finally {
      this.#counting = wasCounting && !this.#stopping;
    }
  }
}

/** describeSnapshot for the counting machine's files. */
function describeCountingSnapshot(files: SnapshotFiles): SnapshotDescription {
  const { state } = readCountingSnapshot(files);
  return {
    formatVersion: 1,
    vcpus: state.cpus,
    ramBytes: state.ramBytes,
    vramBytes: 0,
    devices: ['com1', ...Array.from({ length: state.disks }, (_, i) => `virtio 00:0${4 + i}.0`)],
  };
}

function delayFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] ?? fallback);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

/**
 * The addon the scripted VM host gets: KVM "works", `Machine` is the scripted one, and the
 * disk-image functions are the real addon's (`real()`, loaded when first needed).
 */
export function scriptedAddon(
  kind: ScriptedMachineKind,
  real: () => NativeAddon,
  env: NodeJS.ProcessEnv = process.env,
): NativeAddon {
  const options: CountingOptions = {
    disks: { openDiskImage: (file, opts) => real().openDiskImage(file, opts) },
    saveDelayMs: delayFrom(env, SCRIPTED_SAVE_MS, 0),
    restoreDelayMs: delayFrom(env, SCRIPTED_RESTORE_MS, 0),
    tickMs: delayFrom(env, SCRIPTED_TICK_MS, 20) || 20,
  };
  const mergeDelayMs = delayFrom(env, SCRIPTED_MERGE_MS, 0);
  const MachineClass =
    kind === 'counting'
      ? class extends CountingMachine {
          constructor(config: MachineConfig, onEvent: (event: MachineEvent) => void) {
            super(config, onEvent, options);
          }
        }
      : EchoMachine;
  return {
    probeKvm: () => ({ ok: true, devicePath: '/dev/kvm', apiVersion: 12 }),
    Machine: MachineClass as unknown as NativeAddon['Machine'],
    version: 'scripted',
    keyCodeNames: () => ['KeyA'],
    describeSnapshot: (files) => {
      if (kind !== 'counting') {
        throw snapshotUnusable(files.stateFile, 'not-a-snapshot', 'the echo machine saves none');
      }
      return describeCountingSnapshot(files);
    },
    imageCreate: (...args) => real().imageCreate(...args),
    imageInfo: (...args) => real().imageInfo(...args),
    imageCheck: (...args) => real().imageCheck(...args),
    imageRead: (...args) => real().imageRead(...args),
    imageWrite: (...args) => real().imageWrite(...args),
    openDiskImage: (...args) => real().openDiskImage(...args),
    // nativeDiskLayerOps also takes a promise of the result: a slow merge without blocking.
    imageMergeLayer: ((layer: string, child: string) =>
      mergeDelayMs > 0
        ? sleep(mergeDelayMs).then(() => real().imageMergeLayer(layer, child))
        : real().imageMergeLayer(layer, child)) as NativeAddon['imageMergeLayer'],
    imageRebase: (...args) => real().imageRebase(...args),
  };
}

/** For a type check that the scripted machines implement everything a Machine has. */
export type ScriptedMachineInstance = EchoMachine | CountingMachine;
const _echoIsMachine: (machine: EchoMachine) => Machine = (machine) => machine;
const _countingIsMachine: (machine: CountingMachine) => Machine = (machine) => machine;
