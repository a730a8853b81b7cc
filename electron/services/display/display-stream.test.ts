import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import {
  DisplayStreamReader,
  encodeAck,
  type DisplayMessage,
  type Rect,
} from '../../common/display-frame-format.ts';
import { DisplayStream, type FrameSource, type FramebufferMode } from './display-stream.ts';
import { CreditViewerSink, type ViewerSink } from './viewer-sink.ts';

/** A guest display in a Uint8Array: the test draws into it and says when damage happened. */
class FakeSource implements FrameSource {
  framebuffer = new Uint8Array(0);
  pixelReads = 0;
  private current: FramebufferMode | null = null;
  private readonly damageListeners = new Set<(rects: readonly Rect[]) => void>();
  private readonly modeListeners = new Set<(mode: FramebufferMode | null) => void>();

  constructor(width: number, height: number) {
    this.resize(width, height);
  }

  get listeners(): number {
    return this.damageListeners.size + this.modeListeners.size;
  }

  mode(): FramebufferMode | null {
    return this.current;
  }

  pixels(): Uint8Array {
    this.pixelReads++;
    return this.framebuffer;
  }

  onDamage(listener: (rects: readonly Rect[]) => void): () => void {
    this.damageListeners.add(listener);
    return () => this.damageListeners.delete(listener);
  }

  onModeChange(listener: (mode: FramebufferMode | null) => void): () => void {
    this.modeListeners.add(listener);
    return () => this.modeListeners.delete(listener);
  }

  /** A new mode with padded lines and a recognisable background; tells the listeners. */
  resize(width: number, height: number): void {
    const stride = width * 4 + 16;
    this.framebuffer = new Uint8Array(stride * height);
    for (let i = 0; i < this.framebuffer.length; i++) this.framebuffer[i] = (i * 7) & 0xff;
    this.current = { width, height, stride, format: 'x8r8g8b8' };
    for (const listener of this.modeListeners) listener(this.current);
  }

  turnOff(): void {
    this.current = null;
    for (const listener of this.modeListeners) listener(null);
  }

  /** Paints `rect` in one BGRX colour, without telling anyone (the guest writing VRAM). */
  paint(rect: Rect, color: number): void {
    const mode = this.current;
    assert.ok(mode);
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) {
        new DataView(this.framebuffer.buffer).setUint32(y * mode.stride + x * 4, color, true);
      }
    }
  }

  /** One display refresh that found `rects` changed. */
  damage(...rects: Rect[]): void {
    for (const listener of this.damageListeners) listener(rects);
  }

  /** Paint and report in one refresh. */
  draw(rect: Rect, color: number): void {
    this.paint(rect, color);
    this.damage(rect);
  }

  /** The visible image, tightly packed, as a viewer should show it. */
  visible(): Uint8Array {
    const mode = this.current;
    assert.ok(mode);
    const out = new Uint8Array(mode.width * mode.height * 4);
    for (let y = 0; y < mode.height; y++) {
      const from = y * mode.stride;
      out.set(this.framebuffer.subarray(from, from + mode.width * 4), y * mode.width * 4);
    }
    return out;
  }
}

/** A viewer: a sink whose readiness the test controls, painting what it gets on a screen. */
class FakeViewer implements ViewerSink {
  readonly messages: DisplayMessage[] = [];
  screen = new Uint8Array(0);
  isReady = true;
  waiting: (() => void) | null = null;
  private readonly reader = new DisplayStreamReader();
  private width = 0;

  send(message: ArrayBuffer): void {
    const decoded = this.reader.read(message);
    this.messages.push(decoded);
    if (decoded.type === 'mode') {
      this.width = decoded.mode?.width ?? 0;
      this.screen = new Uint8Array(this.width * (decoded.mode?.height ?? 0) * 4);
    }
    if (decoded.type === 'frame') {
      for (const rect of decoded.rects) {
        for (let row = 0; row < rect.height; row++) {
          const line = rect.pixels.subarray(row * rect.width * 4, (row + 1) * rect.width * 4);
          this.screen.set(line, ((rect.y + row) * this.width + rect.x) * 4);
        }
      }
    }
  }

  ready(): boolean {
    return this.isReady;
  }

  whenReady(callback: (() => void) | null): void {
    this.waiting = callback;
  }

  setReady(ready: boolean): void {
    this.isReady = ready;
    const callback = this.waiting;
    if (ready && callback !== null) {
      this.waiting = null;
      callback();
    }
  }

  /** Messages since the previous call, as "MODE 40×30", "MODE off" or "FRAME full", "FRAME 2". */
  take(): string[] {
    const summary = this.messages.map((m) => {
      if (m.type === 'mode') return m.mode ? `MODE ${m.mode.width}×${m.mode.height}` : 'MODE off';
      if (m.type === 'frame') return m.full ? 'FRAME full' : `FRAME ${m.rects.length}`;
      return m.type;
    });
    this.lastFrames = this.messages.filter((m) => m.type === 'frame');
    this.messages.length = 0;
    return summary;
  }

  lastFrames: DisplayMessage[] = [];

  /** The rectangles of the only frame in the last take(). */
  lastRects(): Rect[] {
    assert.equal(this.lastFrames.length, 1);
    const frame = this.lastFrames[0];
    assert.ok(frame?.type === 'frame');
    return frame.rects.map(({ x, y, width, height }) => ({ x, y, width, height }));
  }
}

const RED = 0x00ff0000;
const GREEN = 0x0000ff00;
const BLUE = 0x000000ff;

test('a new viewer gets MODE and one full frame showing the screen', () => {
  const source = new FakeSource(64, 48);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  const handle = stream.addViewer(viewer);

  assert.deepEqual(viewer.take(), ['MODE 64×48', 'FRAME full']);
  assert.deepEqual(viewer.screen, source.visible());
  assert.deepEqual(handle.stats, {
    messages: 2,
    bytes: 32 + 32 + 24 + 64 * 48 * 4,
    frames: 1,
    fullFrames: 1,
    coalescedTicks: 0,
  });
});

test('damage sends only the damaged rectangles, with their exact pixels', () => {
  const source = new FakeSource(64, 48);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  const handle = stream.addViewer(viewer);
  viewer.take();
  const before = handle.stats.bytes;

  source.paint({ x: 3, y: 4, width: 5, height: 6 }, RED);
  source.paint({ x: 50, y: 40, width: 10, height: 2 }, GREEN);
  source.damage({ x: 3, y: 4, width: 5, height: 6 }, { x: 50, y: 40, width: 10, height: 2 });

  assert.deepEqual(viewer.take(), ['FRAME 2']);
  assert.deepEqual(viewer.lastRects(), [
    { x: 3, y: 4, width: 5, height: 6 },
    { x: 50, y: 40, width: 10, height: 2 },
  ]);
  assert.deepEqual(viewer.screen, source.visible());
  const dataBytes = (5 * 6 + 10 * 2) * 4;
  assert.equal(handle.stats.bytes - before, 32 + 2 * 24 + dataBytes, 'no pixel outside the rects');
});

test('a viewer that is not ready gets one coalesced frame of the current pixels later', () => {
  const source = new FakeSource(64, 48);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  const handle = stream.addViewer(viewer);
  viewer.take();

  viewer.setReady(false);
  source.draw({ x: 0, y: 0, width: 8, height: 8 }, RED);
  source.draw({ x: 8, y: 0, width: 8, height: 8 }, GREEN);
  source.draw({ x: 0, y: 0, width: 8, height: 8 }, BLUE); // drawn over again: only blue matters
  source.draw({ x: 40, y: 30, width: 4, height: 4 }, GREEN);
  assert.deepEqual(viewer.take(), [], 'nothing is sent or queued while it is not ready');
  assert.ok(viewer.waiting, 'the stream waits for the sink');

  source.paint({ x: 1, y: 1, width: 2, height: 2 }, RED); // drawn after the last refresh
  const reads = source.pixelReads;
  viewer.setReady(true);

  assert.deepEqual(viewer.take(), ['FRAME 2'], 'one frame for four refreshes');
  assert.deepEqual(viewer.lastRects(), [
    { x: 0, y: 0, width: 16, height: 8 },
    { x: 40, y: 30, width: 4, height: 4 },
  ]);
  assert.equal(source.pixelReads, reads + 1, 'encoded from the pixels of the moment it was sent');
  assert.deepEqual(viewer.screen, source.visible());
  assert.equal(handle.stats.coalescedTicks, 3);
  assert.equal(handle.stats.frames, 2);

  viewer.setReady(true);
  assert.deepEqual(viewer.take(), [], 'readiness alone sends nothing new');
});

test('pending damage stays bounded however long a viewer lags', () => {
  const source = new FakeSource(640, 480);
  const stream = new DisplayStream(source, { maxRectsPerFrame: 16 });
  const viewer = new FakeViewer();
  stream.addViewer(viewer);
  viewer.take();
  viewer.setReady(false);

  for (let i = 0; i < 2000; i++) {
    const x = (i * 37) % 620;
    const y = (i * 91) % 470;
    source.draw({ x, y, width: 3, height: 2 }, i * 2654435761);
  }
  viewer.setReady(true);

  assert.deepEqual(viewer.take().length, 1);
  assert.ok(viewer.lastRects().length <= 16);
  assert.deepEqual(viewer.screen, source.visible(), 'every damaged pixel is covered');
});

test('a mode change discards pending damage and sends MODE then a full frame', () => {
  const source = new FakeSource(64, 48);
  const stream = new DisplayStream(source);
  const fast = new FakeViewer();
  const slow = new FakeViewer();
  stream.addViewer(fast);
  stream.addViewer(slow);
  fast.take();
  slow.take();

  slow.setReady(false);
  source.draw({ x: 1, y: 1, width: 4, height: 4 }, RED);
  assert.deepEqual(fast.take(), ['FRAME 1']);

  source.resize(80, 60);
  assert.deepEqual(fast.take(), ['MODE 80×60', 'FRAME full']);
  assert.deepEqual(fast.screen, source.visible());

  source.draw({ x: 70, y: 50, width: 10, height: 10 }, GREEN);
  assert.deepEqual(fast.take(), ['FRAME 1']);

  slow.setReady(true);
  assert.deepEqual(slow.take(), ['MODE 80×60', 'FRAME full'], 'the old damage is gone');
  assert.deepEqual(slow.screen, source.visible());
});

test('display off sends MODE off and no frames until a mode comes back', () => {
  const source = new FakeSource(32, 32);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  stream.addViewer(viewer);
  viewer.take();

  source.turnOff();
  source.damage({ x: 0, y: 0, width: 4, height: 4 });
  assert.deepEqual(viewer.take(), ['MODE off']);

  const late = new FakeViewer();
  stream.addViewer(late);
  assert.deepEqual(late.take(), ['MODE off'], 'a viewer joining a dark display');

  source.resize(16, 16);
  assert.deepEqual(viewer.take(), ['MODE 16×16', 'FRAME full']);
  assert.deepEqual(late.take(), ['MODE 16×16', 'FRAME full']);
});

test('two viewers at different speeds do not hold each other up', () => {
  const source = new FakeSource(64, 48);
  const stream = new DisplayStream(source);
  const fast = new FakeViewer();
  const slow = new FakeViewer();
  const fastHandle = stream.addViewer(fast);
  const slowHandle = stream.addViewer(slow);

  slow.setReady(false);
  for (let tick = 0; tick < 10; tick++) {
    source.draw({ x: tick * 6, y: tick * 4, width: 6, height: 4 }, RED + tick);
    assert.deepEqual(fast.screen, source.visible(), `fast viewer is current at tick ${tick}`);
    if (tick % 5 === 4) {
      // The slow viewer catches up once every five refreshes.
      slow.setReady(true);
      slow.setReady(false);
    }
  }
  assert.equal(fastHandle.stats.frames, 1 + 10, 'one frame per refresh');
  assert.equal(slowHandle.stats.frames, 1 + 2, 'a frame each time it was ready');
  assert.deepEqual(slow.screen, source.visible());
});

test('a removed viewer gets nothing more; the last one lets go of the source', () => {
  const source = new FakeSource(32, 32);
  const stream = new DisplayStream(source);
  const staying = new FakeViewer();
  const leaving = new FakeViewer();
  stream.addViewer(staying);
  const handle = stream.addViewer(leaving);
  leaving.take();
  assert.equal(source.listeners, 2);

  leaving.setReady(false);
  source.draw({ x: 0, y: 0, width: 2, height: 2 }, RED);
  assert.ok(leaving.waiting);
  handle.remove();
  assert.equal(handle.connected, false);
  assert.equal(leaving.waiting, null, 'its wait is cancelled');
  assert.equal(stream.viewerCount, 1);
  source.draw({ x: 4, y: 4, width: 2, height: 2 }, GREEN);
  source.resize(20, 20);
  assert.deepEqual(leaving.take(), []);

  stream.close();
  assert.equal(source.listeners, 0);
  assert.equal(stream.viewerCount, 0);
});

test('an idle stream sends nothing and waits on nothing', async () => {
  const source = new FakeSource(32, 32);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  stream.addViewer(viewer);
  viewer.take();
  const reads = source.pixelReads;

  await new Promise((resolve) => setTimeout(resolve, 20));
  viewer.setReady(false);
  await new Promise((resolve) => setTimeout(resolve, 20));
  source.damage(); // a refresh that found nothing
  viewer.setReady(true);

  assert.deepEqual(viewer.take(), []);
  assert.equal(viewer.waiting, null, 'no wait is outstanding without something to send');
  assert.equal(source.pixelReads, reads, 'the framebuffer is not read');
  assert.equal(new DisplayStream(source).viewerCount, 0);
  assert.equal(source.listeners, 2, 'a stream without viewers does not subscribe');
});

test('a viewer whose send throws is dropped and reported; the others carry on', () => {
  const source = new FakeSource(32, 32);
  const errors: unknown[] = [];
  const stream = new DisplayStream(source, { onViewerError: (error) => errors.push(error) });
  const good = new FakeViewer();
  const broken = new FakeViewer();
  stream.addViewer(good);
  const brokenHandle = stream.addViewer(broken);
  broken.send = () => {
    throw new Error('socket closed');
  };

  source.draw({ x: 0, y: 0, width: 4, height: 4 }, RED);
  assert.equal(brokenHandle.connected, false);
  assert.match(String(errors[0]), /socket closed/);
  good.take();
  assert.deepEqual(good.screen, source.visible());
});

test('resync sends MODE and a full frame again', () => {
  const source = new FakeSource(32, 32);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  const handle = stream.addViewer(viewer);
  viewer.take();
  viewer.screen.fill(0);
  handle.resync();
  assert.deepEqual(viewer.take(), ['MODE 32×32', 'FRAME full']);
  assert.deepEqual(viewer.screen, source.visible());
});

test('damage outside the mode is clipped, damage while connecting is folded in', () => {
  const source = new FakeSource(32, 32);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  viewer.isReady = false;
  const handle = stream.addViewer(viewer);
  source.draw({ x: 0, y: 0, width: 4, height: 4 }, RED);
  viewer.setReady(true);
  assert.deepEqual(viewer.take(), ['MODE 32×32', 'FRAME full']);
  assert.equal(handle.stats.coalescedTicks, 1);

  source.draw({ x: 30, y: 30, width: 2, height: 2 }, GREEN);
  source.damage({ x: 30, y: 30, width: 50, height: 50 }, { x: 100, y: 0, width: 5, height: 5 });
  assert.deepEqual(viewer.take(), ['FRAME 1', 'FRAME 1']);
  assert.deepEqual(viewer.screen, source.visible());
});

test('over a real MessageChannel with acknowledgements, frames arrive unchanged and in order', async () => {
  const source = new FakeSource(48, 32);
  const stream = new DisplayStream(source);
  const { port1: hostPort, port2: viewerPort } = new MessageChannel();
  const sink = new CreditViewerSink((message) => hostPort.postMessage(message), {
    maxInFlight: 1,
  });
  hostPort.on('message', (data) => sink.handleMessage(data));

  // The renderer's side: decode, paint, acknowledge.
  const reader = new DisplayStreamReader();
  const received: string[] = [];
  const screen = new Uint8Array(48 * 32 * 4);
  let frames = 0;
  let onFrame: () => void = () => {};
  viewerPort.on('message', (data) => {
    const message = reader.read(data);
    received.push(message.type);
    if (message.type === 'frame') {
      for (const rect of message.rects) {
        for (let row = 0; row < rect.height; row++) {
          const line = rect.pixels.subarray(row * rect.width * 4, (row + 1) * rect.width * 4);
          screen.set(line, ((rect.y + row) * 48 + rect.x) * 4);
        }
      }
      frames++;
      onFrame();
    }
    viewerPort.postMessage(encodeAck(message.sequence));
  });
  const nextFrame = () => new Promise<void>((resolve) => (onFrame = resolve));

  try {
    const arrived = nextFrame();
    stream.addViewer(sink);
    await arrived;
    assert.deepEqual(received, ['mode', 'frame']);

    // Many refreshes in a burst with one message allowed in flight: fewer, newer frames.
    for (let tick = 0; tick < 20; tick++) {
      source.draw({ x: (tick * 5) % 44, y: (tick * 3) % 28, width: 4, height: 4 }, BLUE + tick);
    }
    while (sink.inFlight > 0 || frames < 2) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(frames < 1 + 20, `coalesced: ${frames} frames for 20 refreshes`);
    assert.deepEqual(screen, source.visible());
  } finally {
    stream.close();
    hostPort.close();
    viewerPort.close();
  }
});

test('pixels that do not cover the mode yet (a mode change in flight) hold frames back', () => {
  const source = new FakeSource(32, 32);
  const stream = new DisplayStream(source);
  const viewer = new FakeViewer();
  const handle = stream.addViewer(viewer);
  viewer.take();

  const framebuffer = source.framebuffer;
  source.framebuffer = new Uint8Array(100); // the device switched buffers; the MODE is on its way
  source.draw({ x: 0, y: 0, width: 1, height: 1 }, RED);
  assert.deepEqual(viewer.take(), []);
  assert.equal(handle.connected, true, "a source race is not the viewer's fault");

  source.framebuffer = framebuffer;
  source.draw({ x: 5, y: 5, width: 1, height: 1 }, GREEN);
  assert.deepEqual(viewer.take(), ['FRAME 2'], 'what was held back comes with the next frame');
  assert.deepEqual(viewer.screen, source.visible());
});
