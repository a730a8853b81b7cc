/**
 * Paints a VM's display stream onto a canvas without React: the stream can bring dozens of
 * FRAMEs a second, and each only touches the pixels that changed. Messages are decoded with
 * the host's own format module, written into one whole-frame RGBA image, and put on screen
 * once per animation frame (only the changed area); the host is acknowledged after that, so
 * a slow window gets fewer, newer frames instead of a queue (docs/display-stream.md).
 */
import {
  BYTES_PER_PIXEL,
  DisplayStreamReader,
  bgrxToRgba,
  type DecodedRect,
  type DisplayMode,
  type Rect,
} from '../../../../../electron/common/display-frame-format.ts';

/** An RGBA image of a whole frame: an ImageData, or a plain object in tests. */
export interface PixelImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/** Copies one decoded rectangle (BGRX rows) into the frame image at its place, opaque. */
export function paintRect(target: PixelImage, rect: DecodedRect): void {
  const rowBytes = rect.width * BYTES_PER_PIXEL;
  if (rect.x + rect.width > target.width || rect.y + rect.height > target.height) {
    throw new RangeError(
      `a ${rect.width}×${rect.height} rectangle at (${rect.x}, ${rect.y}) does not fit a ${target.width}×${target.height} image`,
    );
  }
  for (let row = 0; row < rect.height; row++) {
    const source = rect.pixels.subarray(row * rowBytes, (row + 1) * rowBytes);
    const start = ((rect.y + row) * target.width + rect.x) * BYTES_PER_PIXEL;
    bgrxToRgba(source, target.data.subarray(start, start + rowBytes));
  }
}

/** The smallest rectangle holding both. */
export function unionRect(a: Rect | null, b: Rect): Rect {
  if (a === null) return { x: b.x, y: b.y, width: b.width, height: b.height };
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

/** Where the painter draws: a canvas's 2D context, or a fake in tests. */
export interface DisplaySurface {
  /** Gives the drawing buffer this size and returns a blank whole-frame image for it. */
  resize(width: number, height: number): PixelImage;
  /** Shows the part of `image` inside `dirty`. */
  present(image: PixelImage, dirty: Rect): void;
}

/** A surface over a canvas; null where the 2D context is not available. */
export function canvasSurface(canvas: HTMLCanvasElement): DisplaySurface | null {
  const context = canvas.getContext('2d', { alpha: false });
  if (!context) return null;
  return {
    resize(width, height) {
      canvas.width = width;
      canvas.height = height;
      return context.createImageData(width, height);
    },
    present(image, dirty) {
      context.putImageData(image as ImageData, 0, 0, dirty.x, dirty.y, dirty.width, dirty.height);
    },
  };
}

export interface DisplayPainterOptions {
  surface: DisplaySurface;
  /** Acknowledges every message up to `sequence`; called after it is on screen. */
  ack: (sequence: number) => void;
  /** Runs a callback before the next repaint; requestAnimationFrame by default. */
  schedule?: (callback: () => void) => void;
  /** A new mode (null: the guest turned its display off). Rare: React may re-render for it. */
  onMode?: (mode: DisplayMode | null) => void;
  /** The stream broke the format or its ordering rules: reconnect for a fresh stream. */
  onError?: (error: Error) => void;
}

export class DisplayPainter {
  readonly #options: DisplayPainterOptions;
  readonly #reader = new DisplayStreamReader();
  #image: PixelImage | null = null;
  #dirty: Rect | null = null;
  #ackDue = -1;
  #scheduled = false;
  #stopped = false;

  constructor(options: DisplayPainterOptions) {
    this.#options = options;
  }

  /** The mode in force: undefined before the first MODE, null while the display is off. */
  get mode(): DisplayMode | null | undefined {
    return this.#reader.mode;
  }

  /** Takes one message from the stream. */
  handle(data: unknown): void {
    if (this.#stopped) return;
    let message;
    try {
      message = this.#reader.read(data);
    } catch (error) {
      this.#stopped = true;
      this.#options.onError?.(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (message.type === 'mode') {
      this.#image = message.mode
        ? this.#options.surface.resize(message.mode.width, message.mode.height)
        : null;
      this.#dirty = null;
      this.#options.onMode?.(message.mode);
    } else if (message.type === 'frame' && this.#image) {
      for (const rect of message.rects) {
        paintRect(this.#image, rect);
        this.#dirty = unionRect(this.#dirty, rect);
      }
    }
    this.#ackDue = message.sequence;
    this.#requestPaint();
  }

  /** Stops painting and acknowledging (the connection is going away). */
  dispose(): void {
    this.#stopped = true;
  }

  #requestPaint(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const schedule = this.#options.schedule ?? ((callback) => requestAnimationFrame(callback));
    schedule(() => this.#paint());
  }

  #paint(): void {
    this.#scheduled = false;
    if (this.#stopped) return;
    if (this.#image && this.#dirty) this.#options.surface.present(this.#image, this.#dirty);
    this.#dirty = null;
    if (this.#ackDue >= 0) {
      const sequence = this.#ackDue;
      this.#ackDue = -1;
      this.#options.ack(sequence);
    }
  }
}
