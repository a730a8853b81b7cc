import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ACK_MESSAGE_BYTES,
  DisplayFormatError,
  DisplayStreamReader,
  FRAME_PREAMBLE_BYTES,
  FRAME_RECT_ENTRY_BYTES,
  HEADER_BYTES,
  MODE_MESSAGE_BYTES,
  bgrxToRgba,
  decodeMessage,
  encodeAck,
  encodeFrame,
  encodeMode,
  readHeader,
  type DisplayMessage,
  type Rect,
} from './display-frame-format.ts';

/** A framebuffer whose every pixel is distinct: B = x, G = y, R = x ^ y, X = 0x5a. Lines padded. */
function framebuffer(width: number, height: number, stride = width * 4 + 12): Uint8Array {
  const pixels = new Uint8Array(stride * height).fill(0xee);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      pixels.set([x & 0xff, y & 0xff, (x ^ y) & 0xff, 0x5a], y * stride + x * 4);
    }
  }
  return pixels;
}

/** The BGRX bytes of `rect` in a framebuffer, tightly packed. */
function expectedPixels(pixels: Uint8Array, stride: number, rect: Rect): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height * 4);
  for (let row = 0; row < rect.height; row++) {
    const from = (rect.y + row) * stride + rect.x * 4;
    out.set(pixels.subarray(from, from + rect.width * 4), row * rect.width * 4);
  }
  return out;
}

function frameOf(message: DisplayMessage): Extract<DisplayMessage, { type: 'frame' }> {
  assert.equal(message.type, 'frame');
  return message as Extract<DisplayMessage, { type: 'frame' }>;
}

function throwsFormat(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DisplayFormatError, `expected DisplayFormatError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

const width = 40;
const height = 30;
const stride = width * 4 + 12;
const pixels = framebuffer(width, height, stride);

function sampleFrame(sequence = 7): ArrayBuffer {
  return encodeFrame({
    sequence,
    width,
    height,
    pixels,
    stride,
    rects: [
      { x: 0, y: 0, width: 3, height: 1 }, // 12 data bytes: padded to 16
      { x: 37, y: 25, width: 3, height: 5 },
    ],
  });
}

test('MODE round trips, and "display off" is its own MODE', () => {
  const on = encodeMode(3, { width: 1920, height: 1080, format: 'x8r8g8b8' });
  assert.equal(on.byteLength, MODE_MESSAGE_BYTES);
  assert.deepEqual(decodeMessage(on), {
    type: 'mode',
    sequence: 3,
    mode: { width: 1920, height: 1080, format: 'x8r8g8b8' },
  });
  assert.deepEqual(decodeMessage(encodeMode(4, null)), { type: 'mode', sequence: 4, mode: null });
});

test('the header is magic NBFS, version 1, type, sequence and total length, little endian', () => {
  const bytes = new Uint8Array(encodeMode(0x01020304, null));
  assert.deepEqual([...bytes.subarray(0, 4)], [...new TextEncoder().encode('NBFS')]);
  assert.deepEqual([...bytes.subarray(4, 16)], [1, 0, 1, 0, 4, 3, 2, 1, 32, 0, 0, 0]);
  assert.deepEqual(readHeader(bytes), {
    version: 1,
    type: 1,
    sequence: 0x01020304,
    byteLength: 32,
  });
});

test('FRAME round trips rectangles with their exact pixels, rows tightly packed', () => {
  const rects: Rect[] = [
    { x: 0, y: 0, width: 1, height: 1 },
    { x: 5, y: 3, width: 7, height: 4 },
    { x: 39, y: 29, width: 1, height: 1 },
    { x: 0, y: 10, width: 40, height: 2 },
  ];
  const message = encodeFrame({ sequence: 9, width, height, pixels, stride, rects });
  assert.equal(message.byteLength % 8, 0);
  const frame = frameOf(decodeMessage(message));
  assert.equal(frame.sequence, 9);
  assert.equal(frame.width, width);
  assert.equal(frame.height, height);
  assert.equal(frame.full, false);
  assert.equal(frame.rects.length, rects.length);
  frame.rects.forEach((decoded, i) => {
    const rect = rects[i] as Rect;
    const { pixels: got, ...geometry } = decoded;
    assert.deepEqual(geometry, rect);
    assert.deepEqual(got, expectedPixels(pixels, stride, rect));
  });
});

test('a full FRAME of an unpadded framebuffer is the framebuffer itself', () => {
  const tight = framebuffer(16, 8, 64);
  const message = encodeFrame({
    sequence: 0,
    width: 16,
    height: 8,
    pixels: tight,
    stride: 64,
    rects: [{ x: 0, y: 0, width: 16, height: 8 }],
    full: true,
  });
  assert.equal(message.byteLength, FRAME_PREAMBLE_BYTES + FRAME_RECT_ENTRY_BYTES + 16 * 8 * 4);
  const frame = frameOf(decodeMessage(message));
  assert.equal(frame.full, true);
  assert.deepEqual(frame.rects[0]?.pixels, tight);
});

test('pixel data starts 8-byte aligned after odd-sized rectangles', () => {
  const frame = frameOf(decodeMessage(sampleFrame()));
  for (const rect of frame.rects) assert.equal(rect.pixels.byteOffset % 8, 0);
  assert.deepEqual(frame.rects[1]?.pixels, expectedPixels(pixels, stride, frame.rects[1] as Rect));
});

test('decodes from a view at any offset (a Node Buffer inside a larger allocation)', () => {
  const message = new Uint8Array(sampleFrame());
  const backing = new Uint8Array(message.byteLength + 3);
  backing.set(message, 3);
  const frame = frameOf(decodeMessage(backing.subarray(3)));
  assert.deepEqual(frame.rects[0]?.pixels, expectedPixels(pixels, stride, frame.rects[0] as Rect));
});

test('ACK round trips and is header-only', () => {
  const ack = encodeAck(0xffffffff);
  assert.equal(ack.byteLength, ACK_MESSAGE_BYTES);
  assert.deepEqual(decodeMessage(ack), { type: 'ack', sequence: 0xffffffff });
});

test('the encoder refuses frames it cannot describe', () => {
  const base = { sequence: 0, width, height, pixels, stride };
  throwsFormat(
    () => encodeFrame({ ...base, rects: [{ x: 38, y: 0, width: 3, height: 1 }] }),
    /outside the 40×30 frame/,
  );
  throwsFormat(() => encodeFrame({ ...base, rects: [] }), /1\.\.4096 rectangles/);
  throwsFormat(
    () => encodeFrame({ ...base, rects: [{ x: 0, y: 0, width: 1, height: 1 }], full: true }),
    /full FRAME/,
  );
  throwsFormat(
    () =>
      encodeFrame({
        ...base,
        pixels: pixels.subarray(0, 100),
        rects: [{ x: 0, y: 1, width: 1, height: 1 }],
      }),
    /past the 100-byte framebuffer/,
  );
  throwsFormat(
    () => encodeFrame({ ...base, stride: 100, rects: [{ x: 0, y: 0, width: 1, height: 1 }] }),
    /stride 100/,
  );
  throwsFormat(() => encodeMode(-1, null), /sequence -1/);
  throwsFormat(() => encodeMode(0, { width: 0, height: 10, format: 'x8r8g8b8' }), /width 0/);
});

/** A copy of `message` with `mutate` applied to a DataView of it. */
function patched(message: ArrayBuffer, mutate: (view: DataView) => void): ArrayBuffer {
  const copy = message.slice(0);
  mutate(new DataView(copy));
  return copy;
}

test('the decoder rejects malformed messages with a message saying what is wrong', () => {
  const frame = sampleFrame();
  const firstEntry = FRAME_PREAMBLE_BYTES;
  const cases: [string, ArrayBuffer | Uint8Array, RegExp][] = [
    ['empty', new ArrayBuffer(0), /truncated message: 0 bytes/],
    ['short header', frame.slice(0, 10), /truncated message: 10 bytes/],
    ['wrong magic', patched(frame, (v) => v.setUint8(0, 0x4f)), /magic is not "NBFS"/],
    ['newer version', patched(frame, (v) => v.setUint16(4, 2, true)), /unsupported version 2/],
    [
      'unknown type',
      patched(frame, (v) => v.setUint16(6, 9, true)),
      /type 9 is not a message type/,
    ],
    ['reserved CURSOR', patched(frame, (v) => v.setUint16(6, 3, true)), /CURSOR is not a message/],
    ['truncated FRAME', frame.slice(0, frame.byteLength - 8), /truncated\)/],
    ['trailing bytes', concat(frame, new ArrayBuffer(8)), /arrived$/],
    ['odd length field', patched(frame, (v) => v.setUint32(12, 33, true)), /not a multiple of 8/],
    ['no rectangles', patched(frame, (v) => v.setUint32(24, 0, true)), /count 0/],
    ['huge count', patched(frame, (v) => v.setUint32(24, 1e6, true)), /count 1000000/],
    ['unknown flag', patched(frame, (v) => v.setUint32(28, 2, true)), /unknown flags 0x2/],
    ['zero width frame', patched(frame, (v) => v.setUint32(16, 0, true)), /FRAME width 0/],
    [
      'rect outside',
      patched(frame, (v) => v.setUint32(firstEntry, 38, true)),
      /rectangle 0 \(3×1 at \(38, 0\)\) is outside the 40×30 frame/,
    ],
    [
      'rect overflowing u32',
      patched(frame, (v) => v.setUint32(firstEntry, 0xffffffff, true)),
      /outside the 40×30 frame/,
    ],
    ['empty rect', patched(frame, (v) => v.setUint32(firstEntry + 12, 0, true)), /outside/],
    ['encoding', patched(frame, (v) => v.setUint32(firstEntry + 16, 1, true)), /encoding 1/],
    ['data length', patched(frame, (v) => v.setUint32(firstEntry + 20, 16, true)), /16 data bytes/],
    [
      'full but partial',
      patched(frame, (v) => v.setUint32(28, 1, true)),
      /full FRAME must be exactly one rectangle/,
    ],
    [
      'MODE off with a size',
      patched(encodeMode(0, null), (v) => v.setUint32(16, 5, true)),
      /"display off" has a 5×0 size/,
    ],
    [
      'MODE format',
      patched(encodeMode(0, null), (v) => v.setUint32(24, 7, true)),
      /unknown pixel format 7/,
    ],
    [
      'MODE too large',
      patched(encodeMode(0, { width: 8, height: 8, format: 'x8r8g8b8' }), (v) =>
        v.setUint32(16, 70000, true),
      ),
      /MODE width 70000 is outside/,
    ],
    [
      'long ACK',
      patched(concat(encodeAck(1), new ArrayBuffer(8)), (v) => v.setUint32(12, 24, true)),
      /ACK is 16 bytes/,
    ],
  ];
  for (const [name, message, pattern] of cases) {
    assert.throws(
      () => decodeMessage(message),
      (error: unknown) =>
        error instanceof DisplayFormatError && pattern.test(error.message)
          ? true
          : assert.fail(`${name}: got ${String(error)}`),
      name,
    );
  }
  throwsFormat(() => decodeMessage('NBFS' as unknown as ArrayBuffer), /got string/);
});

test('optional message types (bit 15) are skipped, not rejected', () => {
  const future = patched(encodeAck(5), (v) => v.setUint16(6, 0x8001, true));
  assert.deepEqual(decodeMessage(future), { type: 'ignored', sequence: 5, messageType: 0x8001 });
});

function concat(a: ArrayBuffer, b: ArrayBuffer): ArrayBuffer {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(new Uint8Array(a), 0);
  out.set(new Uint8Array(b), a.byteLength);
  return out.buffer;
}

/** xorshift32: the same "random" bytes on every run. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/** Decoding either fails with DisplayFormatError or yields a message that keeps every promise. */
function decodeOrReject(message: Uint8Array): void {
  let decoded: DisplayMessage;
  try {
    decoded = decodeMessage(message);
  } catch (error) {
    if (error instanceof DisplayFormatError) return;
    throw error;
  }
  if (decoded.type !== 'frame') return;
  for (const rect of decoded.rects) {
    assert.ok(rect.width > 0 && rect.height > 0);
    assert.ok(rect.x + rect.width <= decoded.width && rect.y + rect.height <= decoded.height);
    assert.equal(rect.pixels.byteLength, rect.width * rect.height * 4);
  }
}

test('random bytes and corrupted messages never crash the decoder', () => {
  const next = randomSource(0x5eed);
  // Pure noise, some with a valid-looking header so the body checks run too.
  for (let i = 0; i < 2000; i++) {
    const length = next() % 160;
    const bytes = new Uint8Array(length).map(() => next() & 0xff);
    if (length >= HEADER_BYTES && i % 2 === 0) {
      bytes.set(new Uint8Array(encodeMode(0, null)).subarray(0, 6));
      bytes[6] = next() % 3;
      new DataView(bytes.buffer).setUint32(12, length, true);
    }
    decodeOrReject(bytes);
  }
  // Every truncation, and random byte flips, of real messages.
  const originals = [sampleFrame(), encodeMode(1, { width: 8, height: 8, format: 'x8r8g8b8' })];
  for (const original of originals) {
    const bytes = new Uint8Array(original);
    for (let cut = 0; cut < bytes.byteLength; cut++) {
      throwsFormat(() => decodeMessage(bytes.subarray(0, cut)), /truncated|arrived/);
    }
    for (let i = 0; i < 3000; i++) {
      const copy = bytes.slice();
      const flips = 1 + (next() % 3);
      for (let f = 0; f < flips; f++) copy[next() % copy.length] = next() & 0xff;
      decodeOrReject(copy);
    }
  }
});

test('the reader enforces the ordering rules of a connection', () => {
  const mode = { width, height, format: 'x8r8g8b8' } as const;
  const reader = new DisplayStreamReader();
  assert.equal(reader.mode, undefined);
  assert.equal(reader.lastSequence, -1);
  throwsFormat(() => reader.read(sampleFrame(0)), /first message of a stream is a MODE/);

  const fresh = new DisplayStreamReader();
  assert.deepEqual(fresh.read(encodeMode(0, mode)), { type: 'mode', sequence: 0, mode });
  assert.equal(frameOf(fresh.read(sampleFrame(1))).rects.length, 2);
  assert.equal(fresh.lastSequence, 1);
  throwsFormat(() => fresh.read(sampleFrame(3)), /expected sequence 2, got 3/);
  throwsFormat(() => fresh.read(encodeAck(2)), /ACK travels from the viewer/);

  const resized = new DisplayStreamReader();
  resized.read(encodeMode(0, { width: 20, height: 30, format: 'x8r8g8b8' }));
  throwsFormat(() => resized.read(sampleFrame(1)), /FRAME is 40×30 but the mode is 20×30/);

  const off = new DisplayStreamReader();
  off.read(encodeMode(0, null));
  assert.equal(off.mode, null);
  throwsFormat(() => off.read(sampleFrame(1)), /FRAME while the display is off/);
});

test('bgrxToRgba swaps to RGBA and makes every pixel opaque', () => {
  const bgrx = new Uint8Array([1, 2, 3, 0, 10, 20, 30, 99]);
  const rgba = new Uint8ClampedArray(8);
  bgrxToRgba(bgrx, rgba);
  assert.deepEqual([...rgba], [3, 2, 1, 255, 30, 20, 10, 255]);
  throwsFormat(() => bgrxToRgba(bgrx, new Uint8Array(4)), /too small/);
});
