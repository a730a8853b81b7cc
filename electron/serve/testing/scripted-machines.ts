/**
 * Machines for the real VM host without /dev/kvm (scripted-vm-host-main.ts), and the addon
 * around them: `probeKvm` says yes, `Machine` is one of these, and the disk-image functions
 * are the real addon's (the snapshot store makes and merges real qcow2 layers with them).
 *
 * What every machine does as the native core's Machine does: the constructor reads the kernel
 * (and initrd) first — a missing one throws KERNEL_NOT_FOUND "kernel file not found: PATH" —
 * the display is the configured monitor's mode (1024×768 by default; none when `display` is
 * null), showing a fixed picture, and the ACPI power button does nothing unless the guest
 * handles it (neither the echo nor the counting test guest does).
 *
 * - `echo` behaves like the echo test guest (native/test/guests/echo.c): prints "echo ready",
 *   echoes serial input (none while paused), and after echoing a "q" prints "\necho done\n"
 *   and halts (the machine stops, reason `halted`). Its constructor opens its disks with the
 *   real addon's image code (in a child process, since the constructor is synchronous), so a
 *   missing or corrupt image throws the native core's IMAGE_* error with its message. It
 *   cannot save snapshots.
 * - `acpi-button` behaves like the acpi-button test guest: prints the SCI routing it found and
 *   "waiting for the power button"; the power button (seen once the machine runs: a press while
 *   paused is handled on resume) makes it print "power button pressed, shutting down" and
 *   enter S5, so the machine stops with reason `powered-off`.
 * - `counting` counts: while running it adds one to a counter every tick (20 ms), prints
 *   "count <n>" and writes n into sector 0 of its first disk, through the addon's real disk
 *   API on the files the VM host gives it (the snapshot tree's current overlays). It saves and
 *   continues snapshots with the native core's semantics (docs/snapshot-format.md), in a file
 *   format of its own (counting-state-file.ts): saveSnapshot only while paused, after draining
 *   and flushing its disk writes; a machine made with `restore`, and restoreSnapshot in place,
 *   check everything first (SNAPSHOT_UNUSABLE before anything changes) and continue at the
 *   saved counter, on the disks given. Its display shows frame n as snapshot-counter.c draws
 *   it (a 16-pixel checkerboard of color(n) and its inverse, see countingFramePixel), drawn
 *   before "count <n>" is printed, black before the first count; a restore with RAM shows the
 *   saved frame again. What it read from its disk when it (re)started is on serial, so tests
 *   can check memory against disks:
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
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskImageHandle } from '../../services/native/disk-image.ts';
import { locateNativeAddon } from '../../services/native/load-addon.ts';
import type {
  DiskConfig,
  DisplayMode,
  Machine,
  MachineConfig,
  MachineEvent,
  MachineState,
  NativeAddon,
  NativeError,
  NativeErrorCode,
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

export type ScriptedMachineKind = 'echo' | 'acpi-button' | 'counting';

export const scriptedMachineKinds: readonly ScriptedMachineKind[] = [
  'echo',
  'acpi-button',
  'counting',
];

/** Selects the machine when the launcher cannot pass `--machine` (e.g. NESTBOX_VM_HOST). */
export const SCRIPTED_MACHINE_VARIABLE = 'NESTBOX_SCRIPTED_MACHINE';
/** The environment variables the counting machine reads (see above). */
export const SCRIPTED_SAVE_MS = 'NESTBOX_SCRIPTED_SAVE_MS';
export const SCRIPTED_RESTORE_MS = 'NESTBOX_SCRIPTED_RESTORE_MS';
export const SCRIPTED_TICK_MS = 'NESTBOX_SCRIPTED_TICK_MS';
/** imageMergeLayer waits this long first, as merging a large layer takes (default 0). */
export const SCRIPTED_MERGE_MS = 'NESTBOX_SCRIPTED_MERGE_MS';

const MiB = 1024 * 1024;
/** The monitor's preferred mode when the config names none (as the native core's default). */
const DEFAULT_WIDTH = 1024;
const DEFAULT_HEIGHT = 768;

function nativeError(code: NativeError['code'], message: string): NativeError {
  return Object.assign(new Error(message), { code });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads a boot file as the native core does before anything else (kernel_file.cc): a missing
 * file is KERNEL_NOT_FOUND (for an initrd too), any other failure KERNEL_UNREADABLE.
 */
function checkBootFile(kind: 'kernel' | 'initrd', file: string): void {
  if (file === '') throw nativeError('INVALID_CONFIG', `no ${kind} file given`);
  try {
    closeSync(openSync(file, 'r'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw nativeError('KERNEL_NOT_FOUND', `${kind} file not found: ${file}`);
    }
    throw nativeError('KERNEL_UNREADABLE', `cannot read ${kind} file ${file}: ${messageOf(error)}`);
  }
}

/**
 * Opens every disk with the real addon's image code (block::open_disk_image, the function the
 * native core's Machine opens its disks with) and closes them again, in a child process:
 * `new Machine` is synchronous and the addon's image functions are not. A missing, corrupt or
 * truncated image throws the addon's IMAGE_* error with its own message.
 */
const OPEN_DISKS_SCRIPT = `
const addon = require(process.argv[1]);
const disks = JSON.parse(process.argv[2]);
(async () => {
  const opened = [];
  let result = { ok: true };
  try {
    for (const disk of disks) {
      opened.push(await addon.openDiskImage(disk.path, { readOnly: disk.readOnly === true }));
    }
  } catch (error) {
    result = { ok: false, code: error.code, message: error.message };
  }
  for (const handle of opened) await handle.close();
  process.stdout.write(JSON.stringify(result));
})();
`;

function openDisksWithTheAddon(disks: readonly DiskConfig[]): void {
  if (disks.length === 0) return;
  const run = spawnSync(
    process.execPath,
    ['-e', OPEN_DISKS_SCRIPT, locateNativeAddon().path, JSON.stringify(disks)],
    // No NODE_OPTIONS: the script is plain CommonJS and needs no tsx.
    { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' }, timeout: 30_000 },
  );
  let result: { ok: boolean; code?: NativeErrorCode; message?: string };
  try {
    result = JSON.parse(run.stdout) as typeof result;
  } catch {
    throw nativeError(
      'IMAGE_IO_ERROR',
      `the disk check failed: ${run.error?.message ?? run.stderr.trim()} (status ${run.status})`,
    );
  }
  if (!result.ok) throw nativeError(result.code ?? 'IMAGE_IO_ERROR', result.message ?? '');
}

/** What every machine shares: state events, the fixed picture, input that goes nowhere. */
abstract class ScriptedMachine {
  state: MachineState = 'created';
  protected readonly onEvent: (event: MachineEvent) => void;
  /** The monitor's mode; null for a headless machine. */
  readonly #mode: DisplayMode | null;
  readonly #pixels: Uint8Array;

  constructor(config: MachineConfig, onEvent: (event: MachineEvent) => void) {
    this.onEvent = onEvent;
    checkBootFile('kernel', config.kernelPath);
    if (config.initrdPath !== undefined) checkBootFile('initrd', config.initrdPath);
    const display = config.display === null ? null : (config.display ?? {});
    this.#mode = display && {
      width: display.width ?? DEFAULT_WIDTH,
      height: display.height ?? DEFAULT_HEIGHT,
      bitsPerPixel: 32,
    };
    this.#pixels = new Uint8Array(this.#mode ? this.#mode.width * this.#mode.height * 4 : 0);
    for (let i = 0; i < this.#pixels.length; i += 1) this.#pixels[i] = (i * 7) & 0xff;
    if (this.#mode) this.emitLater({ type: 'display-mode', mode: this.#mode });
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
  /** An SCI no guest listens to: nothing happens (the acpi-button machine overrides this). */
  powerButton(): void {}
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
    return this.#mode && { mode: { ...this.#mode }, pixels: this.#pixels.slice() };
  }
  copyDisplayRects(target: Uint8Array): boolean {
    if (!this.#mode || target.length !== this.#pixels.length) return false;
    target.set(this.#pixels);
    return true;
  }
  /** The picture as a real PNG (the UI shows it as the VM's thumbnail). */
  screenshot(): Uint8Array | null {
    if (!this.#mode) return null;
    const png = new PNG({ width: this.#mode.width, height: this.#mode.height });
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

/**
 * A test guest that keeps no snapshots and runs until it stops itself or is powered off: the
 * states as the native core has them (pause only while running, resume only while paused).
 */
abstract class SimpleGuestMachine extends ScriptedMachine {
  constructor(config: MachineConfig, onEvent: (event: MachineEvent) => void) {
    super(config, onEvent);
    if (config.restore) {
      throw snapshotUnusable(config.restore.stateFile, 'not-a-snapshot', 'this guest saves none');
    }
    openDisksWithTheAddon(config.disks ?? []);
  }

  /** The guest starts running. */
  protected abstract booted(): void;
  /** The guest runs again after a pause. */
  protected abstract resumed(): void;

  start(): void {
    this.requireState(['created'], 'start');
    this.setState('running');
    this.booted();
  }
  pause(): void {
    if (this.state === 'paused') return;
    this.requireState(['running'], 'pause');
    this.setState('paused');
  }
  resume(): void {
    this.requireState(['paused'], 'resume');
    this.setState('running');
    this.resumed();
  }
  /** The machine stops, however it was asked to (powerOff, the guest's S5, a halt). */
  protected stop(reason: StopReason): void {
    if (this.state === 'stopped' || this.state === 'error') return;
    this.setState('stopped', reason);
  }
  powerOff(): void {
    this.stop('powered-off');
  }
  close(): void {
    if (this.state !== 'error') this.state = 'stopped';
  }
  saveSnapshot(): Promise<SnapshotSaveResult> {
    return Promise.reject(nativeError('INVALID_STATE', 'this test guest keeps no snapshots'));
  }
  restoreSnapshot(): Promise<void> {
    return Promise.reject(nativeError('INVALID_STATE', 'this test guest keeps no snapshots'));
  }
}

/** The `echo` test guest's behaviour (native/test/guests/echo.c). */
class EchoMachine extends SimpleGuestMachine {
  /** Input the "guest" has not read yet (it reads nothing while paused). */
  #unread: number[] = [];
  /** It echoed a "q": it prints its last line and halts. */
  #done = false;

  #echo(): void {
    if (this.state !== 'running' || this.#done || this.#unread.length === 0) return;
    const quit = this.#unread.indexOf('q'.charCodeAt(0));
    const read = this.#unread.splice(0, quit < 0 ? this.#unread.length : quit + 1);
    this.emitLater({ type: 'serial', data: Uint8Array.from(read) });
    if (quit < 0) return;
    // guest_main returned: "echo done", then cli; hlt, which the VMM reports as halted.
    this.#done = true;
    this.emitLater({ type: 'serial', data: new TextEncoder().encode('\necho done\n') });
    setImmediate(() => this.stop('halted'));
  }

  protected booted(): void {
    this.emitLater({ type: 'serial', data: new TextEncoder().encode('echo ready\n') });
  }
  protected resumed(): void {
    this.#echo();
  }
  sendSerialInput(data: Uint8Array): number {
    this.#unread.push(...data);
    this.#echo();
    return data.byteLength;
  }
}

/** The `acpi-button` test guest's behaviour (native/test/guests/acpi-button.c). */
class AcpiButtonMachine extends SimpleGuestMachine {
  /** PWRBTN_STS is set: the guest handles it when it next runs. */
  #pressed = false;
  #waiting = false;

  protected booted(): void {
    // What the guest found in this machine's ACPI tables, then it enables the button and waits.
    this.emitLater({
      type: 'serial',
      data: new TextEncoder().encode(
        'SCI: GSI 9, level, active high; PM1a at 0x600\nwaiting for the power button\n',
      ),
    });
    this.#waiting = true;
    this.#handle();
  }
  protected resumed(): void {
    this.#handle();
  }
  #handle(): void {
    if (this.state !== 'running' || !this.#waiting || !this.#pressed) return;
    this.#waiting = false;
    this.emitLater({
      type: 'serial',
      data: new TextEncoder().encode('power button pressed, shutting down\n'),
    });
    // SLP_TYP S5 with SLP_EN: the machine powers off.
    setImmediate(() => this.stop('powered-off'));
  }
  override powerButton(): void {
    if (this.state === 'stopped' || this.state === 'error') return;
    this.#pressed = true;
    this.#handle();
  }
  /** The guest never reads COM1. */
  sendSerialInput(data: Uint8Array): number {
    return data.byteLength;
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

/**
 * Pixel (x, y) of the counting guest's frame n, XRGB8888 (snapshot-counter.c's draw_frame):
 * color(n) = ((n × 2654435761) mod 2^32) >> 8 where ((x >> 4) ^ (y >> 4)) + n is even, else
 * its inverse (low 24 bits). Tests read the count off the screen with it.
 */
export function countingFramePixel(n: number, x: number, y: number): number {
  const color = (Math.imul(n, 2654435761) >>> 0) >>> 8;
  return (((x >> 4) ^ (y >> 4)) + n) % 2 === 0 ? color : ~color & 0xffffff;
}

/** A B, G, R, X frame as PNG bytes. */
function framePng(mode: DisplayMode, pixels: Uint8Array): Uint8Array {
  const png = new PNG({ width: mode.width, height: mode.height });
  for (let i = 0; i < pixels.length; i += 4) {
    png.data[i] = pixels[i + 2] ?? 0;
    png.data[i + 1] = pixels[i + 1] ?? 0;
    png.data[i + 2] = pixels[i] ?? 0;
    png.data[i + 3] = 0xff;
  }
  return PNG.sync.write(png);
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
  /** The display's mode (null: headless) and what it shows: fresh VRAM is black. */
  readonly #screen: DisplayMode | null;
  readonly #frame: Uint8Array;
  #streaming = false;

  constructor(
    config: MachineConfig,
    onEvent: (event: MachineEvent) => void,
    options: CountingOptions,
  ) {
    super(config, onEvent);
    this.#config = config;
    this.#options = options;
    this.#screen = super.readDisplayFrame()?.mode ?? null;
    this.#frame = new Uint8Array(this.#screen ? this.#screen.width * this.#screen.height * 4 : 0);
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
      this.#draw(state.counter);
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

  /** Frame n on the display (n = 0: black), and damage for whoever watches. */
  #draw(n: number): void {
    const mode = this.#screen;
    if (!mode) return;
    const words = new Uint32Array(this.#frame.buffer);
    if (n === 0) {
      words.fill(0);
    } else {
      // Two kinds of row, by the parity of y >> 4.
      const rows = [0, 16].map((y) =>
        Uint32Array.from({ length: mode.width }, (_, x) => countingFramePixel(n, x, y)),
      );
      for (let y = 0; y < mode.height; y += 1) {
        words.set(rows[(y >> 4) & 1] ?? [], y * mode.width);
      }
    }
    this.#damage();
  }

  #damage(): void {
    const mode = this.#screen;
    if (!mode || !this.#streaming) return;
    const rects = Uint32Array.of(0, 0, mode.width, mode.height);
    this.emitLater({ type: 'display-damage', mode: { ...mode }, rects });
  }

  #tick(): void {
    if (this.state !== 'running' || !this.#counting || this.#stopping) return;
    this.#counter += 1;
    const counter = this.#counter;
    // As snapshot-counter.c: the disk, then the frame, then the line on serial.
    void this.#onIo(async () => {
      const disk = this.#disks[0];
      if (disk && !disk.readOnly) await disk.write(0, sectorBytes(counter));
    }).catch((error: unknown) => {
      this.emitLater({ type: 'log', message: `disk write failed: ${messageOf(error)}` });
    });
    this.#draw(counter);
    this.serial(`count ${counter}\n`);
  }

  override setDisplayStreaming(on?: boolean): void {
    this.#streaming = on === true;
  }
  override requestFullDisplayFrame(): void {
    this.#damage();
  }
  override readDisplayFrame() {
    return this.#screen && { mode: { ...this.#screen }, pixels: this.#frame.slice() };
  }
  override copyDisplayRects(target: Uint8Array): boolean {
    if (!this.#screen || target.length !== this.#frame.length) return false;
    target.set(this.#frame);
    return true;
  }
  override screenshot(): Uint8Array | null {
    return this.#screen && framePng(this.#screen, this.#frame);
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
      // With RAM comes the display's memory: the saved frame is back on the screen.
      if (files.ramFile !== undefined) this.#draw(state.counter);
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
      : kind === 'acpi-button'
        ? AcpiButtonMachine
        : EchoMachine;
  return {
    probeKvm: () => ({ ok: true, devicePath: '/dev/kvm', apiVersion: 12 }),
    Machine: MachineClass as unknown as NativeAddon['Machine'],
    version: 'scripted',
    keyCodeNames: () => ['KeyA'],
    describeSnapshot: (files) => {
      if (kind !== 'counting') {
        throw snapshotUnusable(files.stateFile, 'not-a-snapshot', `the ${kind} machine saves none`);
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
    imageMergeLayer: ((layer, child, options) =>
      mergeDelayMs > 0
        ? sleep(mergeDelayMs).then(() => real().imageMergeLayer(layer, child, options))
        : real().imageMergeLayer(layer, child, options)) as NativeAddon['imageMergeLayer'],
    imageRebase: (...args) => real().imageRebase(...args),
  };
}

/** For a type check that the scripted machines implement everything a Machine has. */
export type ScriptedMachineInstance = EchoMachine | AcpiButtonMachine | CountingMachine;
const _echoIsMachine: (machine: EchoMachine) => Machine = (machine) => machine;
const _acpiButtonIsMachine: (machine: AcpiButtonMachine) => Machine = (machine) => machine;
const _countingIsMachine: (machine: CountingMachine) => Machine = (machine) => machine;
