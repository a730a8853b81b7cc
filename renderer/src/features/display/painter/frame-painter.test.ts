import { describe, expect, it, vi } from 'vitest';
import {
  DisplayFormatError,
  encodeFrame,
  encodeMode,
  type Rect,
} from '../../../../../electron/common/display-frame-format.ts';
import {
  DisplayPainter,
  paintRect,
  unionRect,
  type DisplaySurface,
  type PixelImage,
} from './frame-painter.ts';

function image(width: number, height: number): PixelImage {
  return { width, height, data: new Uint8ClampedArray(width * height * 4) };
}

/** A BGRX framebuffer where pixel (x, y) has blue x, green y, red 200. */
function framebuffer(width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      pixels.set([x, y, 200, 0x5a], (y * width + x) * 4);
    }
  }
  return pixels;
}

function rgbaAt(target: PixelImage, x: number, y: number): number[] {
  const at = (y * target.width + x) * 4;
  return Array.from(target.data.subarray(at, at + 4));
}

function fakeSurface() {
  const presented: Rect[] = [];
  let current: PixelImage | null = null;
  const surface: DisplaySurface = {
    resize: vi.fn((width: number, height: number) => (current = image(width, height))),
    present: (_image, dirty) => presented.push(dirty),
  };
  return { surface, presented, image: () => current };
}

describe('paintRect', () => {
  it('puts a rectangle’s BGRX rows at its place in the RGBA image, opaque', () => {
    const message = encodeFrame({
      sequence: 1,
      width: 8,
      height: 6,
      pixels: framebuffer(8, 6),
      stride: 32,
      rects: [{ x: 2, y: 3, width: 3, height: 2 }],
    });
    const painter = fakeSurface();
    // Decode through the painter's own path: MODE, then this FRAME.
    const p = new DisplayPainter({ surface: painter.surface, ack: () => {}, schedule: (f) => f() });
    p.handle(encodeMode(0, { width: 8, height: 6, format: 'x8r8g8b8' }));
    p.handle(message);
    const painted = painter.image() as PixelImage;
    expect(rgbaAt(painted, 2, 3)).toEqual([200, 3, 2, 255]);
    expect(rgbaAt(painted, 4, 4)).toEqual([200, 4, 4, 255]);
    // Outside the rectangle: untouched.
    expect(rgbaAt(painted, 1, 3)).toEqual([0, 0, 0, 0]);
    expect(rgbaAt(painted, 5, 4)).toEqual([0, 0, 0, 0]);
    expect(rgbaAt(painted, 2, 5)).toEqual([0, 0, 0, 0]);

    // And straight: the pure function on a hand-made rectangle.
    const direct = image(4, 4);
    paintRect(direct, {
      x: 1,
      y: 2,
      width: 2,
      height: 1,
      pixels: new Uint8Array([10, 20, 30, 0, 40, 50, 60, 0]),
    });
    expect(rgbaAt(direct, 1, 2)).toEqual([30, 20, 10, 255]);
    expect(rgbaAt(direct, 2, 2)).toEqual([60, 50, 40, 255]);
    expect(rgbaAt(direct, 0, 2)).toEqual([0, 0, 0, 0]);
  });

  it('refuses a rectangle that does not fit the image', () => {
    expect(() =>
      paintRect(image(4, 4), { x: 3, y: 0, width: 2, height: 1, pixels: new Uint8Array(8) }),
    ).toThrow(RangeError);
  });
});

describe('unionRect', () => {
  it('bounds both rectangles', () => {
    expect(unionRect(null, { x: 1, y: 1, width: 2, height: 2 })).toEqual({
      x: 1,
      y: 1,
      width: 2,
      height: 2,
    });
    expect(
      unionRect({ x: 1, y: 1, width: 2, height: 2 }, { x: 5, y: 0, width: 1, height: 1 }),
    ).toEqual({ x: 1, y: 0, width: 5, height: 3 });
  });
});

describe('DisplayPainter', () => {
  const mode = (sequence: number, width = 16, height = 8) =>
    encodeMode(sequence, { width, height, format: 'x8r8g8b8' });
  const frame = (sequence: number, rects: Rect[], width = 16, height = 8) =>
    encodeFrame({
      sequence,
      width,
      height,
      pixels: framebuffer(width, height),
      stride: width * 4,
      rects,
      full: rects.length === 1 && rects[0]?.width === width && rects[0]?.height === height,
    });

  it('sizes the surface on MODE and reports the mode', () => {
    const { surface } = fakeSurface();
    const onMode = vi.fn();
    const painter = new DisplayPainter({ surface, ack: () => {}, onMode, schedule: () => {} });
    painter.handle(mode(0, 640, 480));
    expect(surface.resize).toHaveBeenCalledWith(640, 480);
    expect(onMode).toHaveBeenCalledWith({ width: 640, height: 480, format: 'x8r8g8b8' });
    expect(painter.mode).toEqual({ width: 640, height: 480, format: 'x8r8g8b8' });
  });

  it('paints once per animation frame, only the changed area, then acknowledges the last message', () => {
    const { surface, presented } = fakeSurface();
    const ack = vi.fn();
    const frames: (() => void)[] = [];
    const painter = new DisplayPainter({ surface, ack, schedule: (f) => frames.push(f) });

    painter.handle(mode(0));
    painter.handle(frame(1, [{ x: 0, y: 0, width: 16, height: 8 }]));
    painter.handle(frame(2, [{ x: 2, y: 2, width: 2, height: 2 }]));
    expect(frames).toHaveLength(1);
    expect(ack).not.toHaveBeenCalled();

    frames.shift()?.();
    expect(presented).toEqual([{ x: 0, y: 0, width: 16, height: 8 }]);
    expect(ack).toHaveBeenCalledExactlyOnceWith(2);

    painter.handle(
      frame(3, [
        { x: 2, y: 2, width: 2, height: 2 },
        { x: 10, y: 5, width: 1, height: 1 },
      ]),
    );
    frames.shift()?.();
    expect(presented.at(-1)).toEqual({ x: 2, y: 2, width: 9, height: 4 });
    expect(ack).toHaveBeenLastCalledWith(3);
  });

  it('acknowledges a MODE that turns the display off without painting', () => {
    const { surface, presented } = fakeSurface();
    const ack = vi.fn();
    const onMode = vi.fn();
    const painter = new DisplayPainter({ surface, ack, onMode, schedule: (f) => f() });
    painter.handle(encodeMode(0, null));
    expect(onMode).toHaveBeenCalledWith(null);
    expect(presented).toEqual([]);
    expect(ack).toHaveBeenCalledWith(0);
  });

  it('stops at a stream that breaks the rules and says why', () => {
    const { surface } = fakeSurface();
    const ack = vi.fn();
    const onError = vi.fn();
    const painter = new DisplayPainter({ surface, ack, onError, schedule: (f) => f() });
    painter.handle(frame(0, [{ x: 0, y: 0, width: 16, height: 8 }])); // no MODE first
    expect(onError).toHaveBeenCalledOnce();
    expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(DisplayFormatError);
    expect(onError.mock.calls[0]?.[0].message).toMatch(/first message of a stream is a MODE/);
    painter.handle(mode(1));
    expect(surface.resize).not.toHaveBeenCalled();
    expect(ack).not.toHaveBeenCalled();
  });

  it('does nothing after dispose', () => {
    const { surface } = fakeSurface();
    const ack = vi.fn();
    const frames: (() => void)[] = [];
    const painter = new DisplayPainter({ surface, ack, schedule: (f) => frames.push(f) });
    painter.handle(mode(0));
    painter.dispose();
    frames.shift()?.();
    expect(ack).not.toHaveBeenCalled();
  });
});
