/**
 * The display path end to end: guest framebuffer → the addon's damage tracking (a shadow copy
 * compared tile by tile at 60 Hz) → DisplayStream over MachineFrameSource → a viewer
 * (CreditViewerSink; an in-process consumer that decodes every message with DisplayStreamReader
 * and acknowledges it at once). The guest is bench-display.c on a 1920×1080×32 bochs-display,
 * drawing from ring 3 (CPL-0 guest code is emulated on the CI machines' nested KVM; CPL 3 runs
 * natively).
 *
 * - Latency: the host sends probe byte k at t0; the guest fills a 64×64 block with color(k) and
 *   echoes k; t1 is when the viewer decodes the FRAME whose pixels at the block show color(k).
 *   Median and p95 of t1 − t0, beside the display refresh interval and the serial round trip
 *   alone (t0 to the echo), measured on the same probes.
 * - Frame rate: the guest redraws the whole frame continuously (8-byte stores, pass count in
 *   pixel (0, 0)); frames per second delivered to the viewer over 5 s and guest redraws per
 *   second, beside the raw memory-copy limit of this machine (copies per second of one
 *   1920×1080×4 buffer, measured in the same run; also into a fresh buffer each time, as the
 *   frame path allocates, and Buffer.fill, what the guest's redraw does), the JS thread's time
 *   per frame, and the process's CPU use meanwhile by thread (the vCPU thread runs the guest).
 *
 * Timing is printed, never asserted. Run: node --import tsx bench/display.bench.ts
 */
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildGuests } from '../native/test/guests/build-guests.ts';
import { locateNativeAddon } from '../electron/services/native/load-addon.ts';
import { MachineSession } from '../electron/services/native/machine-session.ts';
import { MachineFrameSource } from '../electron/services/display/machine-frame-source.ts';
import { CreditViewerSink } from '../electron/services/display/viewer-sink.ts';
import {
  DisplayStream,
  type DisplayViewer,
  type FrameSource,
  type FramebufferMode,
} from '../electron/services/display/display-stream.ts';
import {
  DisplayStreamReader,
  encodeAck,
  type DisplayMessage,
  type Rect,
} from '../electron/common/display-frame-format.ts';
import { median } from './bench-support.ts';

const WIDTH = 1920;
const HEIGHT = 1080;
const FRAME_BYTES = WIDTH * HEIGHT * 4; // 8,294,400
const REFRESH_MS = 1000 / 60;

const LATENCY_SAMPLES = 50;
/** Probe bytes are 1..PROBE_MAX (bench-display.c); consecutive probes always differ. */
const PROBE_MAX = 0x3f;
/** Where the guest fills the probe block (BLOCK_X, BLOCK_Y, BLOCK_SIZE in bench-display.c). */
const BLOCK = { x: 256, y: 256, size: 64 };
const PROBE_TIMEOUT_MS = 2_000;
const BOOT_TIMEOUT_MS = 30_000;
const FPS_WARMUP_MS = 500;
const FPS_WINDOW_MS = 5_000;
const MEMCPY_WINDOW_MS = 1_000;

type FrameMessage = Extract<DisplayMessage, { type: 'frame' }>;

/** color(k) of bench-display.c: XRGB8888 0x00RRGGBB with red k, green 255 − k, blue 4k. */
function probeColor(k: number): number {
  return (k << 16) | ((255 - k) << 8) | ((4 * k) & 0xff);
}

/** The 32-bit pixel (x, y) of a decoded FRAME, or undefined when no rectangle holds it. */
function pixelAt(frame: FrameMessage, x: number, y: number): number | undefined {
  for (let i = frame.rects.length - 1; i >= 0; --i) {
    const rect = frame.rects[i];
    if (!rect) continue;
    if (x < rect.x || y < rect.y || x >= rect.x + rect.width || y >= rect.y + rect.height) continue;
    const at = ((y - rect.y) * rect.width + (x - rect.x)) * 4;
    const p = rect.pixels;
    return (
      ((p[at] ?? 0) |
        ((p[at + 1] ?? 0) << 8) |
        ((p[at + 2] ?? 0) << 16) |
        ((p[at + 3] ?? 0) << 24)) >>>
      0
    );
  }
  return undefined;
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

const ms = (value: number): string => `${value.toFixed(2)} ms`;

// ---- the raw memory-copy limit ----

/**
 * Copies of one 1920×1080×4 buffer per second, for ~MEMCPY_WINDOW_MS each way; and fills of it
 * (Buffer.fill, what the guest's redraw does) for comparison with the guest's pass rate.
 */
function measureMemcpy(): {
  bufferCopy: number;
  typedArraySet: number;
  fill: number;
  freshCopy: number;
} {
  const source = Buffer.alloc(FRAME_BYTES, 0x5a);
  const target = Buffer.alloc(FRAME_BYTES);
  const rate = (copy: () => void): number => {
    for (let i = 0; i < 5; ++i) copy(); // fault the pages in, warm up
    let copies = 0;
    const began = performance.now();
    let elapsed: number;
    do {
      for (let i = 0; i < 10; ++i) copy();
      copies += 10;
      elapsed = performance.now() - began;
    } while (elapsed < MEMCPY_WINDOW_MS);
    return (copies * 1000) / elapsed;
  };
  const bufferCopy = rate(() => source.copy(target));
  const sourceView = new Uint8Array(source.buffer, source.byteOffset, FRAME_BYTES);
  const targetView = new Uint8Array(target.buffer, target.byteOffset, FRAME_BYTES);
  const typedArraySet = rate(() => targetView.set(sourceView));
  let value = 0;
  const fill = rate(() => target.fill((value = (value + 1) & 0xff)));
  // Into a new buffer each time, as readDisplayFrame() and encodeFrame() do.
  const freshCopy = rate(() => new Uint8Array(FRAME_BYTES).set(sourceView));
  return { bufferCopy, typedArraySet, fill, freshCopy };
}

// ---- per-thread CPU time, to tell the vCPU (guest) from the host side ----

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux x86-64

/** utime + stime in ms of every thread of this process, by thread id. */
function threadCpuMs(): Map<number, number> {
  const result = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      result.set(Number(tid), (ticks * 1000) / CLOCK_TICKS_PER_SECOND);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return result;
}

// ---- where the JS thread's time goes ----

/** Passes a FrameSource through, timing pixels() (the readDisplayFrame copy) and the damage dispatch. */
class TimedFrameSource implements FrameSource {
  readMs = 0;
  dispatchMs = 0;

  constructor(private readonly inner: FrameSource) {}

  mode(): FramebufferMode | null {
    return this.inner.mode();
  }

  pixels(): Uint8Array {
    const began = performance.now();
    const pixels = this.inner.pixels();
    this.readMs += performance.now() - began;
    return pixels;
  }

  /** The stream's handling of a tick: pixels(), encoding, handing the FRAME to the sink. */
  onDamage(listener: (rects: readonly Rect[]) => void): () => void {
    return this.inner.onDamage((rects) => {
      const began = performance.now();
      listener(rects);
      this.dispatchMs += performance.now() - began;
    });
  }

  onModeChange(listener: (mode: FramebufferMode | null) => void): () => void {
    return this.inner.onModeChange(listener);
  }
}

// ---- the viewer ----

/** One viewer on the stream: decodes each message, hands frames on, acknowledges at once. */
class BenchViewer {
  readonly reader = new DisplayStreamReader();
  readonly sink: CreditViewerSink;
  frames = 0;
  bytes = 0;
  decodeMs = 0;
  onFrame: ((frame: FrameMessage, at: number) => void) | null = null;
  readonly #firstFrame: Promise<void>;
  #resolveFirstFrame!: () => void;

  constructor() {
    this.#firstFrame = new Promise((resolve) => {
      this.#resolveFirstFrame = resolve;
    });
    this.sink = new CreditViewerSink((message) => queueMicrotask(() => this.#receive(message)));
  }

  get firstFrame(): Promise<void> {
    return this.#firstFrame;
  }

  #receive(data: ArrayBuffer): void {
    const began = performance.now();
    const message = this.reader.read(data);
    const at = performance.now();
    this.decodeMs += at - began;
    if (message.type === 'frame') {
      this.frames += 1;
      this.bytes += data.byteLength;
      this.#resolveFirstFrame();
      this.onFrame?.(message, at);
    }
    this.sink.handleMessage(encodeAck(message.sequence));
  }
}

// ---- the guest's serial line ----

class SerialLine {
  text = '';
  onByte: ((byte: number, at: number) => void) | null = null;
  readonly #waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];

  constructor(session: MachineSession) {
    session.on('serial', (event) => {
      const at = performance.now();
      for (const byte of event.data) {
        this.onByte?.(byte, at);
        this.text += String.fromCharCode(byte);
      }
      for (const waiter of [...this.#waiters]) {
        const match = this.text.match(waiter.pattern);
        if (match) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    });
  }

  /** Resolves with the first match of `pattern` in everything received from now on. */
  waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpMatchArray> {
    this.text = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${what}: nothing matching ${pattern} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#waiters.push({
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
      });
    });
  }
}

/** `promise`, or a rejection naming `what` after `timeoutMs` (the timer does not outlive it). */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} took more than ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Resolves at `deadline` (a performance.now() time): on a timer, or on the first damage event
 * past it. The second matters when the JS thread is behind: the addon queues every damage
 * event, and while JS works through a backlog of them, timers do not run.
 */
function waitUntil(session: MachineSession, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(finish, Math.max(0, deadline - performance.now()));
    const off = session.on('display-damage', () => {
      if (performance.now() >= deadline) finish();
    });
  });
}

// ---- the phases ----

interface Probe {
  frameMs: number;
  serialMs: number;
}

async function measureLatency(
  session: MachineSession,
  serial: SerialLine,
  viewer: BenchViewer,
): Promise<{ probes: Probe[]; lost: number }> {
  const probes: Probe[] = [];
  let lost = 0;
  for (let i = 0; i < LATENCY_SAMPLES; ++i) {
    const k = (i % PROBE_MAX) + 1;
    const color = probeColor(k);
    // A random phase against the 60 Hz damage tick, so the samples cover all of it.
    await sleep(Math.random() * REFRESH_MS);
    let echoAt: number | undefined;
    let frameAt: number | undefined;
    const done = new Promise<void>((resolve) => {
      const check = () => {
        if (echoAt !== undefined && frameAt !== undefined) resolve();
      };
      serial.onByte = (byte, at) => {
        if (byte === k && echoAt === undefined) {
          echoAt = at;
          check();
        }
      };
      viewer.onFrame = (frame, at) => {
        const pixel = pixelAt(frame, BLOCK.x + BLOCK.size / 2, BLOCK.y + BLOCK.size / 2);
        if (pixel !== undefined && (pixel & 0xffffff) === color && frameAt === undefined) {
          frameAt = at;
          check();
        }
      };
    });
    const sentAt = performance.now();
    session.sendSerialInput(Uint8Array.of(k));
    const arrived = await withTimeout(done, PROBE_TIMEOUT_MS, 'a probe').then(
      () => true,
      () => false,
    );
    serial.onByte = null;
    viewer.onFrame = null;
    if (!arrived || echoAt === undefined || frameAt === undefined) {
      lost += 1;
      continue;
    }
    probes.push({ frameMs: frameAt - sentAt, serialMs: echoAt - sentAt });
  }
  return { probes, lost };
}

interface FpsResult {
  seconds: number;
  frames: number;
  bytes: number;
  /** Guest passes per second by pixel (0, 0) of the first and last frame in the window. */
  pixelPassRate: number | undefined;
  /** The same by the guest's own count over COM1, timed when each reply reached JS. */
  serialPassRate: number;
  processCpuMs: number;
  threadCpuMs: { vcpu: number; main: number; others: number };
  coalescedTicks: number;
  /** 'display-damage' events that reached JS in the window. */
  damageEvents: number;
  /** JS-thread milliseconds in the window: readDisplayFrame copies, damage ticks, decoding. */
  readMs: number;
  dispatchMs: number;
  decodeMs: number;
}

/**
 * The guest redraws; the window is FPS_WINDOW_MS of wall time (see waitUntil). Then the viewer
 * is removed (streaming off), so a backlog of damage events, if any, drains at no cost.
 */
async function measureFps(
  session: MachineSession,
  serial: SerialLine,
  viewer: BenchViewer,
  handle: DisplayViewer,
  source: TimedFrameSource,
): Promise<FpsResult> {
  const passes = async (): Promise<{ count: number; at: number }> => {
    const reply = serial.waitFor(/passes (\d+)\n/, PROBE_TIMEOUT_MS, "the guest's pass count");
    session.sendSerialInput('C');
    const match = await reply;
    return { count: Number(match[1]), at: performance.now() };
  };

  const started = serial.waitFor(/fps\n/, PROBE_TIMEOUT_MS, 'redraw mode');
  session.sendSerialInput('F');
  await started;
  await waitUntil(session, performance.now() + FPS_WARMUP_MS);

  const begin = await passes();
  const before = {
    ticks: handle.stats.coalescedTicks,
    read: source.readMs,
    dispatch: source.dispatchMs,
    decode: viewer.decodeMs,
    cpu: process.cpuUsage(),
    threads: threadCpuMs(),
    wall: performance.now(),
  };
  const deadline = before.wall + FPS_WINDOW_MS;

  let windowOpen = true;
  let damageEvents = 0;
  const offDamage = session.on('display-damage', () => {
    if (windowOpen && performance.now() < deadline) damageEvents += 1;
  });
  let firstPixel: { count: number; at: number } | undefined;
  let lastPixel: { count: number; at: number } | undefined;
  let frames = 0;
  let bytes = 0;
  const bytesBefore = viewer.bytes;
  viewer.onFrame = (frame, at) => {
    if (!windowOpen || at >= deadline) return;
    frames += 1;
    bytes = viewer.bytes - bytesBefore;
    const count = pixelAt(frame, 0, 0);
    if (count === undefined) return;
    firstPixel ??= { count, at };
    lastPixel = { count, at };
  };

  await waitUntil(session, deadline);
  windowOpen = false;
  const wallMs = performance.now() - before.wall;
  const cpu = process.cpuUsage(before.cpu);
  const threadsAfter = threadCpuMs();
  const after = {
    ticks: handle.stats.coalescedTicks,
    read: source.readMs,
    dispatch: source.dispatchMs,
    decode: viewer.decodeMs,
  };
  viewer.onFrame = null;
  offDamage();
  handle.remove();
  const end = await passes();

  const deltas = [...threadsAfter].map(([tid, ms]) => ({
    tid,
    ms: ms - (before.threads.get(tid) ?? 0),
  }));
  const main = deltas.find((entry) => entry.tid === process.pid)?.ms ?? 0;
  const busiestOther = deltas
    .filter((entry) => entry.tid !== process.pid)
    .reduce((best, entry) => (entry.ms > best ? entry.ms : best), 0);
  const total = deltas.reduce((sum, entry) => sum + entry.ms, 0);

  let pixelPassRate: number | undefined;
  if (firstPixel && lastPixel && lastPixel.at > firstPixel.at) {
    pixelPassRate = ((lastPixel.count - firstPixel.count) * 1000) / (lastPixel.at - firstPixel.at);
  }
  return {
    seconds: wallMs / 1000,
    frames,
    bytes,
    pixelPassRate,
    serialPassRate: ((end.count - begin.count) * 1000) / (end.at - begin.at),
    processCpuMs: (cpu.user + cpu.system) / 1000,
    threadCpuMs: { vcpu: busiestOther, main, others: total - main - busiestOther },
    coalescedTicks: after.ticks - before.ticks,
    damageEvents,
    readMs: after.read - before.read,
    dispatchMs: after.dispatch - before.dispatch,
    decodeMs: after.decode - before.decode,
  };
}

// ---- main ----

async function main(): Promise<void> {
  const guests = buildGuests();
  const { addon } = locateNativeAddon();
  const kvm = addon.probeKvm();
  if (!kvm.ok) throw new Error(`this benchmark needs a usable /dev/kvm: ${JSON.stringify(kvm)}`);

  const memcpy = measureMemcpy();
  const memcpyRate = Math.max(memcpy.bufferCopy, memcpy.typedArraySet);
  const copyPeer = memcpy.typedArraySet >= memcpy.bufferCopy ? 'TypedArray.set' : 'Buffer.copy';
  console.log(
    `memory-copy limit: ${memcpyRate.toFixed(0)} copies/s of one ${WIDTH}×${HEIGHT}×4 buffer ` +
      `(${FRAME_BYTES.toLocaleString('en')} bytes, ${((memcpyRate * FRAME_BYTES) / 1e9).toFixed(1)} GB/s, ` +
      `${copyPeer}; Buffer.copy ${memcpy.bufferCopy.toFixed(0)}/s, TypedArray.set ` +
      `${memcpy.typedArraySet.toFixed(0)}/s); into a fresh buffer each time ${memcpy.freshCopy.toFixed(0)}/s; ` +
      `Buffer.fill ${memcpy.fill.toFixed(0)}/s`,
  );

  const session = new MachineSession(addon, {
    kernelPath: guests.elf['bench-display'],
    memoryMiB: 64,
    cpus: 1,
    entropy: false,
    display: { vramMiB: 16, width: WIDTH, height: HEIGHT },
  });
  const serial = new SerialLine(session);
  const machineSource = new MachineFrameSource(session);
  const source = new TimedFrameSource(machineSource);
  const stream = new DisplayStream(source);
  try {
    const booted = serial.waitFor(/ring3 cpl=(\d+)\n/, BOOT_TIMEOUT_MS, 'booting bench-display');
    const bootBegan = performance.now();
    session.start();
    void session.ended.then((ending) => {
      if (ending.state === 'error' || ending.reason !== 'powered-off') {
        console.error(
          `the machine stopped: ${ending.state} (${ending.reason ?? ''})` +
            (ending.error ? `: ${ending.error.message}` : '') +
            `; serial so far: ${JSON.stringify(serial.text.slice(-300))}`,
        );
      }
    });
    const ring3 = await booted;
    const header = /bench-display: fb=(\S+) (\d+)x(\d+) stride=(\d+)/.exec(serial.text);
    console.log(
      `guest: ${header ? `framebuffer at ${header[1]}, ${header[2]}×${header[3]}, stride ${header[4]} px; ` : ''}` +
        `CPL ${ring3[1]} reached ${ms(performance.now() - bootBegan)} after start`,
    );

    const viewer = new BenchViewer();
    const handle = stream.addViewer(viewer.sink);
    await withTimeout(viewer.firstFrame, PROBE_TIMEOUT_MS, 'the first full frame');
    const mode = viewer.reader.mode;
    if (!mode || mode.width !== WIDTH || mode.height !== HEIGHT) {
      throw new Error(`the viewer got mode ${JSON.stringify(mode)}, not ${WIDTH}×${HEIGHT}`);
    }

    const { probes, lost } = await measureLatency(session, serial, viewer);
    if (probes.length === 0) throw new Error('no latency probe came back');
    const frameMs = probes.map((probe) => probe.frameMs);
    const serialMs = probes.map((probe) => probe.serialMs);
    console.log(
      `latency (guest framebuffer write → FRAME decoded at the viewer, ${probes.length} probes` +
        `${lost > 0 ? `, ${lost} lost` : ''}): median ${ms(median(frameMs))}, ` +
        `p95 ${ms(percentile(frameMs, 0.95))} (min ${ms(Math.min(...frameMs))}, max ${ms(Math.max(...frameMs))})`,
    );
    console.log(
      `  peers: display refresh interval ${ms(REFRESH_MS)}; serial round trip alone (byte in → echo out) ` +
        `median ${ms(median(serialMs))}, p95 ${ms(percentile(serialMs, 0.95))} → latency median = ` +
        `${(median(frameMs) / REFRESH_MS).toFixed(2)} refresh intervals = ` +
        `${(median(frameMs) / median(serialMs)).toFixed(1)}× the serial round trip`,
    );

    const fps = await measureFps(session, serial, viewer, handle, source);
    const delivered = fps.frames / fps.seconds;
    const guestPasses = fps.pixelPassRate ?? fps.serialPassRate;
    console.log(
      `frame rate (guest redrawing all of ${WIDTH}×${HEIGHT} continuously, ${fps.seconds.toFixed(2)} s): ` +
        `${delivered.toFixed(1)} frames/s delivered to the viewer (${fps.frames} frames, ` +
        `${(fps.bytes / fps.seconds / 1e6).toFixed(0)} MB/s; ${fps.damageEvents} damage events reached JS, ` +
        `${(fps.damageEvents / fps.seconds).toFixed(1)}/s: the addon ticks at most 60/s, more is a backlog ` +
        `draining; ${fps.coalescedTicks} coalesced by the stream); ` +
        `guest ${guestPasses.toFixed(0)} full redraws/s (by pixel (0, 0) of the frames; ` +
        `${fps.serialPassRate.toFixed(0)}/s by its count over COM1)`,
    );
    console.log(
      `  peers: delivered/memcpy = ${(delivered / memcpyRate).toFixed(4)} (memcpy ${memcpyRate.toFixed(0)}/s); ` +
        `delivered/refresh = ${(delivered / 60).toFixed(2)} (60/s); ` +
        `guest redraws/memcpy = ${(guestPasses / memcpyRate).toFixed(2)}; ` +
        `guest redraws/host Buffer.fill = ${(guestPasses / memcpy.fill).toFixed(2)}`,
    );
    const perFrame = (total: number): string => ms(fps.frames > 0 ? total / fps.frames : NaN);
    console.log(
      `  JS thread per delivered frame: readDisplayFrame() ${perFrame(fps.readMs)}; ` +
        `whole damage tick in the stream (that copy, encoding, hand-over) ${perFrame(fps.dispatchMs)}; ` +
        `viewer decode ${perFrame(fps.decodeMs)}`,
    );
    const percent = (cpuMs: number): string =>
      `${((cpuMs / (fps.seconds * 1000)) * 100).toFixed(0)}%`;
    console.log(
      `  host CPU meanwhile: process ${percent(fps.processCpuMs)} of one core — the vCPU running the guest ` +
        `(the busiest thread but JS's) ${percent(fps.threadCpuMs.vcpu)}, JS main thread ` +
        `${percent(fps.threadCpuMs.main)}, all other threads ${percent(fps.threadCpuMs.others)}`,
    );
  } finally {
    stream.close();
    machineSource.close();
    if (session.state === 'running' || session.state === 'paused') {
      await withTimeout(session.powerOff(), 10_000, 'powering off').catch((error: unknown) => {
        console.error(String(error));
      });
    }
    session.close();
  }
}

try {
  await main();
} catch (error) {
  console.error(`display bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
