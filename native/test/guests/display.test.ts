/**
 * The display (bochs-display at 00:01.0) end to end on real /dev/kvm, driven
 * by the display-pattern guest (display-pattern.c over guest_display.h):
 * - the adapter as the guest finds it: a 32-bit prefetchable 16 MiB BAR 0
 *   (the linear framebuffer) and a 4 KiB BAR 2 with the EDID at 0 and the
 *   DISPI registers at 0x500, starting in the direct-boot mode 1024x768x32;
 * - two mode sets through DISPI in BAR 2 (320x200x32, then 640x480x32), each
 *   followed by a pattern the test recomputes: readDisplayFrame() returns it
 *   exactly, the screenshot PNG (decoded by pngjs) holds the same RGB, the
 *   'display-mode' events report the modes in order, and with streaming on a
 *   full-frame damage follows each mode change and the damage of each drawing
 *   covers the whole frame;
 * - an idle guest (halted with interrupts on, the screen still) under
 *   streaming for 10 s: no damage at all, and the process's CPU use printed
 *   (loosely bounded);
 * - a headless machine (display: null) has no frame and no screenshot.
 * Without a usable /dev/kvm these tests fail.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { GuestConsole } from './guest-console.ts';
import { addonWithKvm } from './kvm-addon.ts';
import { DisplayStreamReader, encodeAck } from '../../../electron/common/display-frame-format.ts';
import { DisplayStream } from '../../../electron/services/display/display-stream.ts';
import { MachineFrameSource } from '../../../electron/services/display/machine-frame-source.ts';
import { CreditViewerSink } from '../../../electron/services/display/viewer-sink.ts';
import { MachineSession } from '../../../electron/services/native/machine-session.ts';
import type {
  DisplayFrame,
  DisplayMode,
  MachineEvent,
  NativeAddon,
} from '../../../electron/services/native/native-addon.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

/** Generous: CPL-0 guest code is emulated on the CI machines (~0.6 µs per instruction). */
const STEP_TIMEOUT_MS = 60_000;
/** After a marker, how long damage of what the guest drew may still take to arrive. */
const DAMAGE_SETTLE_MS = 500;
const IDLE_WINDOW_MS = 10_000;
/** A loose bound only: the figure is printed; the idle cost is a tick comparison at 10 Hz. */
const IDLE_CPU_LIMIT_PERCENT = 20;

/** The MMIO window for BARs (native/src/bus/pci/pci_layout.h). */
const BAR_WINDOW_START = 0xc000_0000n;
const BAR_WINDOW_END = 0xe000_0000n;

let addon: NativeAddon;
let guests: GuestImages;

before(() => {
  addon = addonWithKvm();
  guests = buildGuests();
});

// ---- the pattern (display-pattern.c) ----

interface GuestMode {
  command: '1' | '2';
  width: number;
  height: number;
  seed: number;
}

const MODES: readonly GuestMode[] = [
  { command: '1', width: 320, height: 200, seed: 0x11 },
  { command: '2', width: 640, height: 480, seed: 0x5a },
];

/** Blue, green, red of pixel (x, y), as display-pattern.c draws it. */
function patternPixel(x: number, y: number, seed: number): [number, number, number] {
  return [(x + 2 * y + seed) & 0xff, ((x ^ y) + 3 * seed) & 0xff, (Math.imul(x, y) + seed) & 0xff];
}

/** Compares BGR(X) or RGB(A) pixels with the pattern; the first mismatches, or [] when equal. */
function patternMismatches(
  pixels: Uint8Array,
  mode: GuestMode,
  order: 'bgrx' | 'rgba',
): { mismatches: string[]; count: number } {
  const mismatches: string[] = [];
  let count = 0;
  for (let y = 0; y < mode.height; ++y) {
    for (let x = 0; x < mode.width; ++x) {
      const at = (y * mode.width + x) * 4;
      const [blue, green, red] = patternPixel(x, y, mode.seed);
      const actual =
        order === 'bgrx'
          ? [pixels[at + 2], pixels[at + 1], pixels[at]]
          : [pixels[at], pixels[at + 1], pixels[at + 2]];
      if (actual[0] !== red || actual[1] !== green || actual[2] !== blue) {
        ++count;
        if (mismatches.length < 5) {
          mismatches.push(
            `(${x},${y}): rgb ${actual.join(',')} instead of ${[red, green, blue].join(',')}`,
          );
        }
      }
    }
  }
  return { mismatches, count };
}

/** key=value fields of a line. */
function fields(line: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const match of line.matchAll(/(\S+?)=("[^"]*"|\S*)/g)) {
    result[match[1] ?? ''] = match[2] ?? '';
  }
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A viewer at the far end of the frame stream, as the renderer is: it decodes every message
 * (DisplayStreamReader enforces the stream's ordering rules), paints rectangles into its own
 * copy of the screen, and acknowledges each message after painting (credit back-pressure).
 */
class StreamViewer {
  readonly #source: MachineFrameSource;
  readonly #stream: DisplayStream;
  readonly #sink: CreditViewerSink;
  readonly #reader = new DisplayStreamReader();
  canvas = new Uint8Array(0);
  width = 0;
  height = 0;
  /** Each MODE message: "WxH", or "off". */
  readonly modes: string[] = [];
  /** MODE messages (display on) that were followed by a full FRAME before anything else. */
  fullFramesAfterMode = 0;
  frames = 0;
  #awaitingFull = false;

  constructor(session: MachineSession) {
    this.#source = new MachineFrameSource(session);
    this.#stream = new DisplayStream(this.#source);
    this.#sink = new CreditViewerSink((message) => this.#receive(message));
    this.#stream.addViewer(this.#sink);
  }

  #receive(data: ArrayBuffer): void {
    const message = this.#reader.read(data);
    if (message.type === 'mode') {
      this.modes.push(message.mode ? `${message.mode.width}x${message.mode.height}` : 'off');
      this.width = message.mode?.width ?? 0;
      this.height = message.mode?.height ?? 0;
      this.canvas = new Uint8Array(this.width * this.height * 4);
      this.#awaitingFull = message.mode !== null;
    } else if (message.type === 'frame') {
      ++this.frames;
      if (this.#awaitingFull && message.full) ++this.fullFramesAfterMode;
      this.#awaitingFull = false;
      for (const rect of message.rects) {
        for (let row = 0; row < rect.height; ++row) {
          const from = row * rect.width * 4;
          this.canvas.set(
            rect.pixels.subarray(from, from + rect.width * 4),
            ((rect.y + row) * this.width + rect.x) * 4,
          );
        }
      }
    }
    // After "painting", like the renderer; never from inside the stream's own send.
    setImmediate(() => this.#sink.handleMessage(encodeAck(message.sequence)));
  }

  shows(mode: GuestMode): boolean {
    return (
      this.width === mode.width &&
      this.height === mode.height &&
      patternMismatches(this.canvas, mode, 'bgrx').count === 0
    );
  }

  close(): void {
    this.#stream.close();
    this.#source.close();
  }
}

type Rect = [x: number, y: number, width: number, height: number];

function rectsOf(event: Extract<MachineEvent, { type: 'display-damage' }>): Rect[] {
  const rects: Rect[] = [];
  assert.equal(event.rects.length % 4, 0, 'damage comes as x, y, width, height quadruples');
  for (let i = 0; i < event.rects.length; i += 4) {
    const [x = 0, y = 0, width = 0, height = 0] = event.rects.subarray(i, i + 4);
    rects.push([x, y, width, height]);
  }
  return rects;
}

const inside = ([x, y, width, height]: Rect, mode: { width: number; height: number }) =>
  width > 0 && height > 0 && x + width <= mode.width && y + height <= mode.height;

/** How many pixels of the frame the rectangles leave uncovered. */
function uncovered(rects: Rect[], mode: { width: number; height: number }): number {
  const covered = new Uint8Array(mode.width * mode.height);
  for (const [x, y, width, height] of rects) {
    for (let row = y; row < Math.min(y + height, mode.height); ++row) {
      covered.fill(1, row * mode.width + x, row * mode.width + Math.min(x + width, mode.width));
    }
  }
  return covered.reduce((missing, pixel) => missing + (pixel === 0 ? 1 : 0), 0);
}

const modeText = (mode: DisplayMode | null) =>
  mode === null ? 'null' : `${mode.width}x${mode.height}x${mode.bitsPerPixel}`;

function checkFrame(frame: DisplayFrame | null, mode: GuestMode): void {
  assert.ok(frame, 'readDisplayFrame() returns the visible frame');
  assert.deepEqual(frame.mode, { width: mode.width, height: mode.height, bitsPerPixel: 32 });
  assert.equal(frame.pixels.length, mode.width * mode.height * 4, 'width * 4 bytes per line');
  const { mismatches, count } = patternMismatches(frame.pixels, mode, 'bgrx');
  assert.equal(
    count,
    0,
    `readDisplayFrame() pixels differ from the pattern: ${mismatches.join('; ')}`,
  );
}

function checkScreenshot(png: Uint8Array | null, mode: GuestMode): void {
  assert.ok(png, 'screenshot() returns a PNG');
  const image = PNG.sync.read(Buffer.from(png));
  assert.equal(image.width, mode.width);
  assert.equal(image.height, mode.height);
  const { mismatches, count } = patternMismatches(image.data, mode, 'rgba');
  assert.equal(
    count,
    0,
    `the screenshot's pixels differ from the pattern: ${mismatches.join('; ')}`,
  );
  for (let at = 3; at < image.data.length; at += 4) {
    if (image.data[at] !== 255) assert.fail(`pixel ${(at - 3) / 4} is not opaque`);
  }
}

describe('display (display-pattern guest)', { skip: kvmSkipReason() }, () => {
  test('modes set through DISPI, exact frames and screenshots, damage, then an idle screen', async (t) => {
    const guest = new GuestConsole(
      addon,
      { kernelPath: guests.elf['display-pattern'], memoryMiB: 64, cpus: 1, entropy: false },
      STEP_TIMEOUT_MS,
    );
    const began = performance.now();
    const elapsed = () => `${((performance.now() - began) / 1000).toFixed(2)} s`;
    try {
      guest.session.start();
      guest.session.display.setDisplayStreaming(true);
      const viewer = new StreamViewer(guest.session);
      t.after(() => viewer.close());

      await t.test('the adapter: BARs, EDID, DISPI in the direct-boot mode', async () => {
        const adapter = fields(await guest.line(/^display: /));
        assert.equal(adapter.slot, '01', 'bochs-display at 00:01.0');
        const bar0 = BigInt(adapter.bar0 ?? '');
        assert.equal(adapter['bar0-flags'], '8', 'BAR 0: memory, 32-bit, prefetchable');
        assert.equal(adapter.size0, '0x1000000', 'BAR 0: 16 MiB of video memory');
        assert.equal(adapter['bar2-flags'], '0', 'BAR 2: memory, 32-bit, not prefetchable');
        assert.equal(adapter.size2, '0x1000', 'BAR 2: 4 KiB');
        for (const [name, size] of [
          ['bar0', 0x100_0000n],
          ['bar2', 0x1000n],
        ] as const) {
          const address = BigInt(adapter[name] ?? '');
          assert.ok(
            address >= BAR_WINDOW_START && address + size <= BAR_WINDOW_END,
            `${name} inside the MMIO window: ${adapter[name]}`,
          );
          assert.equal(address % size, 0n, `${name} naturally aligned`);
        }
        assert.notEqual(bar0, BigInt(adapter.bar2 ?? ''));
        assert.equal(adapter.edid, '00ffffffffffff00', 'an EDID header at BAR 2 + 0');

        const dispi = fields(await guest.line(/^dispi: /));
        assert.equal(dispi.id, 'b0c5');
        assert.equal(dispi.vram64k, '256', 'VIDEO_MEMORY_64K: 16 MiB');
        assert.equal(dispi.xres, '1024');
        assert.equal(dispi.yres, '768');
        assert.equal(dispi.bpp, '32');
        assert.equal(Number.parseInt(dispi.enable ?? '', 16) & 0x41, 0x41, 'enabled, LFB');
        assert.equal(dispi['virt-width'], '1024');

        // Streaming from the start: the initial mode's whole frame.
        await guest.until('the initial full-frame damage', () =>
          guest
            .since(1, 'display-damage')
            .some(({ event }) =>
              rectsOf(event).some((rect) => rect.join() === [0, 0, 1024, 768].join()),
            ),
        );
      });

      for (const mode of MODES) {
        const name = `${mode.width}x${mode.height}x32`;
        await t.test(
          `mode ${name}: mode event, full-frame damage, pattern, frame, PNG`,
          async () => {
            const modeMark = guest.mark;
            const answer = await guest.command(mode.command, /^mode [12] /);
            assert.equal(
              answer,
              `mode ${mode.command} ${name} ok xres=${mode.width} yres=${mode.height} bpp=32 ` +
                `enable=0041 virt-width=${mode.width} x-offset=0 y-offset=0`,
            );
            await guest.until(`the ${name} mode event`, () =>
              guest
                .since(modeMark, 'display-mode')
                .some(({ event }) => modeText(event.mode) === name),
            );
            const modeEvent = guest
              .since(modeMark, 'display-mode')
              .find(({ event }) => modeText(event.mode) === name);
            assert.ok(modeEvent);
            // The full frame of the new mode, from the first tick that saw it.
            const fullFrame = () =>
              guest
                .since(modeMark, 'display-damage')
                .find(
                  ({ event }) =>
                    uncovered(rectsOf(event), mode) === 0 &&
                    rectsOf(event).every((rect) => inside(rect, mode)),
                );
            await guest.until(
              `a full-frame ${name} damage`,
              () => fullFrame() !== undefined,
              5_000,
            );
            const full = fullFrame();
            assert.ok(full);
            // Damage from a tick that raced the mode change may name the old
            // frame (the mode event comes from the vCPU, damage from the I/O
            // thread); everything from the new mode's full frame on is inside it.
            const stale = guest
              .since(modeMark, 'display-damage')
              .filter((entry) => entry.seq < full.seq)
              .filter(({ event }) => rectsOf(event).some((rect) => !inside(rect, mode)));
            if (stale.length > 0) {
              console.log(
                `# note: ${stale.length} damage event(s) outside ${name} arrived after its mode ` +
                  `event (seq ${modeEvent.seq}) and before its full frame: ` +
                  stale.map(({ seq, event }) => `seq ${seq} [${event.rects.join(',')}]`).join('; '),
              );
            }

            const drawMark = guest.mark;
            const drawStart = performance.now();
            await guest.command('d', /^drawn [12]$/);
            const drawSeconds = (performance.now() - drawStart) / 1000;
            await sleep(DAMAGE_SETTLE_MS);
            const damage = guest.since(drawMark, 'display-damage');
            assert.ok(damage.length > 0, 'the drawing produced damage');
            const rects = damage.flatMap(({ event }) => rectsOf(event));
            const outside = rects.filter((rect) => !inside(rect, mode));
            assert.deepEqual(outside, [], `damage rectangles inside the ${name} frame`);
            assert.equal(uncovered(rects, mode), 0, 'the damage of the drawing covers the frame');
            assert.deepEqual(
              guest
                .since(full.seq, 'display-damage')
                .flatMap(({ event }) => rectsOf(event).filter((rect) => !inside(rect, mode))),
              [],
              'no damage outside the frame after its full-frame damage',
            );

            checkFrame(guest.session.display.readDisplayFrame(), mode);
            checkScreenshot(guest.session.display.screenshot(), mode);
            // The same picture at the far end of the frame stream, pixel for pixel.
            await guest.until(
              `the stream viewer showing the ${name} pattern`,
              () => viewer.shows(mode),
              5_000,
            );
            console.log(
              `# ${name}: drawn in ${drawSeconds.toFixed(2)} s, ${damage.length} damage events; ` +
                `at ${elapsed()}`,
            );
          },
        );
      }

      await t.test('the stream: MODE then a full FRAME for every mode, in order', () => {
        assert.deepEqual(
          viewer.modes.filter((mode) => mode !== 'off'),
          ['1024x768', '320x200', '640x480'],
        );
        assert.equal(
          viewer.fullFramesAfterMode,
          3,
          'each MODE (display on) followed by a full frame',
        );
      });

      await t.test('display-mode events: the direct-boot mode, then both modes in order', () => {
        assert.deepEqual(
          guest.since(1, 'display-mode').map(({ event }) => modeText(event.mode)),
          ['1024x768x32', 'null', '320x200x32', 'null', '640x480x32'],
          'each mode set turns the mode off (null), then on',
        );
      });

      await t.test(
        `an idle guest under streaming: no damage for ${IDLE_WINDOW_MS / 1000} s`,
        async () => {
          // sti; hlt: the vCPU sleeps in KVM and the machine keeps running. (A
          // cli; hlt guest would make the VMM stop the machine: 'halted'.)
          await guest.command('i', /^idle$/);
          await sleep(DAMAGE_SETTLE_MS);
          const idleMark = guest.mark;
          const framesBefore = viewer.frames;
          const cpuBefore = process.cpuUsage();
          const wallBefore = performance.now();
          await sleep(IDLE_WINDOW_MS);
          const cpu = process.cpuUsage(cpuBefore);
          const wallMs = performance.now() - wallBefore;
          const percent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
          console.log(
            `# idle guest, streaming on: process CPU ${percent.toFixed(2)}% of one core over ` +
              `${(wallMs / 1000).toFixed(1)} s (user ${(cpu.user / 1000).toFixed(0)} ms, ` +
              `system ${(cpu.system / 1000).toFixed(0)} ms)`,
          );
          assert.equal(guest.session.state, 'running', 'the idle guest keeps running');
          assert.equal(viewer.frames, framesBefore, 'the stream sent no frame while idle');
          assert.deepEqual(
            guest.events.filter(({ seq }) => seq >= idleMark).map(({ event }) => event.type),
            [],
            'no damage (nor any other event) while the screen is still',
          );
          assert.ok(
            percent < IDLE_CPU_LIMIT_PERCENT,
            `idle CPU ${percent.toFixed(2)}% < ${IDLE_CPU_LIMIT_PERCENT}% of one core`,
          );
          const last = MODES[MODES.length - 1];
          assert.ok(last);
          checkFrame(guest.session.display.readDisplayFrame(), last);
        },
      );
    } finally {
      await guest.finish();
    }
  });

  test('a headless machine (display: null) has no frame and no screenshot', async () => {
    const guest = new GuestConsole(
      addon,
      {
        kernelPath: guests.elf['display-pattern'],
        memoryMiB: 64,
        cpus: 1,
        entropy: false,
        display: null,
      },
      STEP_TIMEOUT_MS,
    );
    try {
      guest.session.start();
      guest.session.display.setDisplayStreaming(true);
      await guest.line(/^display: none$/);
      assert.equal(guest.session.state, 'running');
      assert.equal(guest.session.display.readDisplayFrame(), null);
      assert.equal(guest.session.display.screenshot(), null);
      await sleep(200);
      assert.deepEqual(guest.since(1, 'display-damage'), [], 'no damage without a display');
      assert.deepEqual(
        guest.since(1, 'display-mode').filter(({ event }) => event.mode !== null),
        [],
        'no visible mode without a display',
      );
      guest.session.sendSerialInput('x');
      const ending = await guest.session.ended;
      assert.deepEqual(ending, { state: 'stopped', reason: 'halted' }, guest.serial);
    } finally {
      await guest.finish();
    }
  });
});
