/**
 * One VM display streamed to any number of viewers (docs/display-stream.md).
 *
 * The source reports damage at most once per display refresh. Each viewer keeps its own
 * pending damage; a viewer that can take a message now gets one FRAME with the pending
 * rectangles encoded from the pixels as they are at that moment. A viewer that cannot keeps
 * accumulating (bounded by DamageRegion) and, once ready, gets one frame of the newest pixels:
 * slow viewers get fewer, newer frames, and never hold up the source or other viewers. New
 * viewers and every mode change get MODE then a full FRAME.
 *
 * Nothing runs between source events: no timers, and no source subscription without viewers.
 */
import {
  BYTES_PER_PIXEL,
  MAX_DIMENSION,
  encodeFrame,
  encodeMode,
  type DisplayMode,
  type Rect,
} from '../../common/display-frame-format.ts';
import { DEFAULT_MAX_DAMAGE_RECTS, DamageRegion } from './damage-region.ts';
import type { ViewerSink } from './viewer-sink.ts';

/** A mode as the source holds it: the wire mode plus the framebuffer's line pitch. */
export interface FramebufferMode extends DisplayMode {
  /** Bytes from one line to the next in pixels(), at least width × 4. */
  stride: number;
}

/**
 * The display a stream reads from; the integrator implements it over the native display
 * device. All callbacks come on the thread that owns the stream.
 */
export interface FrameSource {
  /** The current mode, or null while the display is off (blanked, no mode set). */
  mode(): FramebufferMode | null;
  /**
   * The visible framebuffer in the current mode, read when a frame is encoded (ideally a view
   * of the guest's VRAM; a copy taken once per damage tick also works): pixel (x, y) is bytes
   * B, G, R, X at y × stride + x × 4. Should hold (height − 1) × stride + width × 4 bytes; while
   * it does not (a mode change on its way) no frame is sent.
   */
  pixels(): Uint8Array;
  /**
   * Subscribes to damage: rectangles (framebuffer pixels of the current mode) that changed
   * since the previous call. At most once per display refresh, never when nothing changed.
   * Returns the unsubscribe function; the source may stop looking for damage when nobody listens.
   */
  onDamage(listener: (rects: readonly Rect[]) => void): () => void;
  /** Subscribes to mode changes (and the display going off: null). Damage after it is in the new mode. */
  onModeChange(listener: (mode: FramebufferMode | null) => void): () => void;
}

export interface ViewerStats {
  /** MODE and FRAME messages handed to the sink, and their bytes. */
  messages: number;
  bytes: number;
  frames: number;
  fullFrames: number;
  /** Damage ticks folded into a frame that was still pending (the viewer was behind). */
  coalescedTicks: number;
}

export interface DisplayViewer {
  readonly stats: Readonly<ViewerStats>;
  /** False once removed (by remove(), close(), or a failed send). */
  readonly connected: boolean;
  /** Sends MODE and a full frame next, e.g. after the viewer lost its canvas. */
  resync(): void;
  /** Stops sending to this viewer; the sink's transport is the caller's to close. */
  remove(): void;
}

export interface DisplayStreamOptions {
  /** Pending rectangles per viewer before they collapse to their bounding box (default 64). */
  maxRectsPerFrame?: number;
  /**
   * A viewer was dropped because sending to it (or encoding for it) threw, e.g. its socket
   * closed. Close its transport here. The other viewers carry on.
   */
  onViewerError?: (error: unknown, viewer: DisplayViewer) => void;
}

/** The stream's record of one viewer; handed out as its DisplayViewer. */
class StreamViewer implements DisplayViewer {
  readonly stats: ViewerStats = {
    messages: 0,
    bytes: 0,
    frames: 0,
    fullFrames: 0,
    coalescedTicks: 0,
  };
  readonly damage: DamageRegion;
  readonly wake = (): void => this.stream.flush(this);
  sequence = 0;
  needsMode = true;
  needsFull = false;
  flushing = false;
  removed = false;

  constructor(
    readonly sink: ViewerSink,
    maxRects: number,
    private readonly stream: DisplayStreamInternals,
  ) {
    this.damage = new DamageRegion(maxRects);
  }

  get connected(): boolean {
    return !this.removed;
  }

  resync(): void {
    if (this.removed) return;
    this.stream.reset(this);
    this.stream.flush(this);
  }

  remove(): void {
    this.stream.remove(this);
  }
}

interface DisplayStreamInternals {
  flush(viewer: StreamViewer): void;
  reset(viewer: StreamViewer): void;
  remove(viewer: StreamViewer): void;
}

function checkSourceMode(mode: FramebufferMode | null): FramebufferMode | null {
  if (mode === null) return null;
  const { width, height, stride, format } = mode;
  const sizeOk = [width, height].every((n) => Number.isInteger(n) && n >= 1 && n <= MAX_DIMENSION);
  if (!sizeOk || format !== 'x8r8g8b8' || !Number.isInteger(stride) || stride < width * 4) {
    throw new RangeError(
      `display source mode ${width}×${height} ${String(format)} stride ${stride} is not streamable ` +
        `(1..${MAX_DIMENSION} pixels a side, x8r8g8b8, stride ≥ width × ${BYTES_PER_PIXEL})`,
    );
  }
  return { width, height, stride, format };
}

export class DisplayStream {
  private readonly viewers = new Set<StreamViewer>();
  private readonly maxRects: number;
  private readonly onViewerError: (error: unknown, viewer: DisplayViewer) => void;
  private current: FramebufferMode | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly internals: DisplayStreamInternals = {
    flush: (viewer) => this.flush(viewer),
    reset: (viewer) => this.resetViewer(viewer),
    remove: (viewer) => this.removeViewer(viewer),
  };

  constructor(
    private readonly source: FrameSource,
    options: DisplayStreamOptions = {},
  ) {
    this.maxRects = options.maxRectsPerFrame ?? DEFAULT_MAX_DAMAGE_RECTS;
    this.onViewerError = options.onViewerError ?? (() => {});
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** The mode viewers are being shown (null: display off, or no viewers yet). */
  get mode(): FramebufferMode | null {
    return this.current;
  }

  /** Adds a viewer: it gets MODE and a full frame as soon as its sink is ready (now, usually). */
  addViewer(sink: ViewerSink): DisplayViewer {
    if (this.unsubscribe === null) this.subscribe();
    const viewer = new StreamViewer(sink, this.maxRects, this.internals);
    this.resetViewer(viewer);
    this.viewers.add(viewer);
    this.flush(viewer);
    return viewer;
  }

  /** Removes every viewer and lets go of the source. */
  close(): void {
    for (const viewer of [...this.viewers]) this.removeViewer(viewer);
  }

  private subscribe(): void {
    this.current = checkSourceMode(this.source.mode());
    const offDamage = this.source.onDamage((rects) => this.handleDamage(rects));
    const offMode = this.source.onModeChange((mode) => this.handleModeChange(mode));
    this.unsubscribe = () => {
      offDamage();
      offMode();
    };
  }

  private removeViewer(viewer: StreamViewer): void {
    if (viewer.removed) return;
    viewer.removed = true;
    viewer.damage.clear();
    viewer.sink.whenReady(null);
    this.viewers.delete(viewer);
    if (this.viewers.size === 0 && this.unsubscribe !== null) {
      this.unsubscribe();
      this.unsubscribe = null;
      this.current = null;
    }
  }

  private resetViewer(viewer: StreamViewer): void {
    viewer.damage.clear();
    viewer.needsMode = true;
    viewer.needsFull = this.current !== null;
  }

  private handleDamage(rects: readonly Rect[]): void {
    const mode = this.current;
    if (mode === null || rects.length === 0) return;
    for (const viewer of this.viewers) {
      if (viewer.needsFull) {
        viewer.stats.coalescedTicks++;
        continue;
      }
      if (!viewer.damage.isEmpty) viewer.stats.coalescedTicks++;
      for (const rect of rects) viewer.damage.add(rect, mode.width, mode.height);
    }
    this.flushAll();
  }

  private handleModeChange(mode: FramebufferMode | null): void {
    this.current = checkSourceMode(mode);
    for (const viewer of this.viewers) this.resetViewer(viewer);
    this.flushAll();
  }

  private flushAll(): void {
    for (const viewer of [...this.viewers]) this.flush(viewer);
  }

  private hasWork(viewer: StreamViewer): boolean {
    return (
      viewer.needsMode || (this.current !== null && (viewer.needsFull || !viewer.damage.isEmpty))
    );
  }

  /** Sends what the viewer is owed while its sink is ready; else waits for it to be. */
  private flush(viewer: StreamViewer): void {
    if (viewer.removed || viewer.flushing) return;
    viewer.flushing = true;
    try {
      while (!viewer.removed && this.hasWork(viewer)) {
        if (!viewer.sink.ready()) {
          viewer.sink.whenReady(viewer.wake);
          return;
        }
        if (!this.sendNext(viewer)) return;
      }
    } catch (error) {
      this.removeViewer(viewer);
      this.onViewerError(error, viewer);
    } finally {
      viewer.flushing = false;
    }
  }

  /**
   * Sends the viewer's next message. False when the source's pixels do not cover its mode (a
   * mode change on its way): the viewer keeps what it is owed until the next source event.
   */
  private sendNext(viewer: StreamViewer): boolean {
    const mode = this.current;
    let message: ArrayBuffer;
    if (viewer.needsMode || mode === null) {
      message = encodeMode(viewer.sequence, mode);
      viewer.needsMode = false;
    } else {
      const pixels = this.source.pixels();
      if (pixels.byteLength < (mode.height - 1) * mode.stride + mode.width * BYTES_PER_PIXEL) {
        return false;
      }
      const full = viewer.needsFull;
      const rects = full
        ? [{ x: 0, y: 0, width: mode.width, height: mode.height }]
        : viewer.damage.rects();
      message = encodeFrame({
        sequence: viewer.sequence,
        width: mode.width,
        height: mode.height,
        pixels,
        stride: mode.stride,
        rects,
        full,
      });
      viewer.needsFull = false;
      viewer.damage.clear();
      viewer.stats.frames++;
      if (full) viewer.stats.fullFrames++;
    }
    viewer.sequence = (viewer.sequence + 1) >>> 0;
    viewer.stats.messages++;
    viewer.stats.bytes += message.byteLength;
    viewer.sink.send(message);
    return true;
  }
}
