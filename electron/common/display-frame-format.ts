/**
 * The display stream's wire format: binary messages from a VM's display to a viewer (MODE,
 * FRAME) and back (ACK). Pure and free of Node APIs, so the renderer decodes with the same
 * code the host encodes with. The byte layout is specified in docs/display-stream.md; keep
 * the two in step.
 *
 * Every message is one ArrayBuffer: a 16-byte header (magic "NBFS", version, type, sequence,
 * total length) and a body, little endian, a multiple of 8 bytes long. The same bytes travel
 * over an Electron MessagePort, a WebSocket (one binary message each) or a byte stream (the
 * header's length frames them).
 */

export const DISPLAY_STREAM_MAGIC = 'NBFS';
export const DISPLAY_STREAM_VERSION = 1;
export const HEADER_BYTES = 16;
export const MODE_MESSAGE_BYTES = 32;
export const FRAME_PREAMBLE_BYTES = 32;
export const FRAME_RECT_ENTRY_BYTES = 24;
export const ACK_MESSAGE_BYTES = 16;
/** Largest width or height a message may carry (a 256 MiB VRAM holds 8192 × 8192 at 32 bpp). */
export const MAX_DIMENSION = 16384;
/** Largest rectangle count of one FRAME; the host's streams send at most a few dozen. */
export const MAX_FRAME_RECTS = 4096;
export const BYTES_PER_PIXEL = 4;

/** Message type codes. Types with bit 15 set are optional: a reader that does not know one skips it. */
export const MessageType = {
  mode: 1,
  frame: 2,
  /** Reserved for a cursor image and hotspot; not defined in version 1. */
  cursor: 3,
  /** Viewer → host: every message up to and including `sequence` has been handled. */
  ack: 16,
} as const;
export const OPTIONAL_TYPE_BIT = 0x8000;

/** Pixel format codes in MODE; 0 means the display is off (no frames until the next MODE). */
export const PixelFormatCode = { off: 0, x8r8g8b8: 1 } as const;
/** FRAME flag: one rectangle covering the whole frame (sent on connect and after a MODE). */
export const FRAME_FLAG_FULL = 1;
/** Per-rectangle encodings. Only raw exists; the field reserves room for compression. */
export const RectEncoding = { raw: 0 } as const;

/**
 * 32-bit pixels read as little-endian integers 0xXXRRGGBB (DRM XRGB8888): bytes B, G, R, X in
 * memory. The X byte is undefined; a viewer paints every pixel opaque.
 */
export type PixelFormat = 'x8r8g8b8';

/** What a viewer needs to know about the screen it shows. */
export interface DisplayMode {
  width: number;
  height: number;
  format: PixelFormat;
}

/** A rectangle in framebuffer pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DecodedRect extends Rect {
  /** Tightly packed BGRX rows (width × 4 bytes each), a view into the message: no copy. */
  pixels: Uint8Array;
}

export type DisplayMessage =
  | { type: 'mode'; sequence: number; mode: DisplayMode | null }
  | {
      type: 'frame';
      sequence: number;
      width: number;
      height: number;
      /** One rectangle covering the frame: the viewer may drop anything older. */
      full: boolean;
      rects: DecodedRect[];
    }
  | { type: 'ack'; sequence: number }
  /** An optional message type this version does not know; skip it (and still acknowledge it). */
  | { type: 'ignored'; sequence: number; messageType: number };

export interface MessageHeader {
  version: number;
  type: number;
  sequence: number;
  byteLength: number;
}

/** A message that breaks the format; the message says what and where. */
export class DisplayFormatError extends Error {
  override name = 'DisplayFormatError';
}

const MAGIC_BYTES = [0x4e, 0x42, 0x46, 0x53]; // "NBFS"
const MAX_SEQUENCE = 0xffffffff;

/** `n` rounded up to a multiple of 8. */
function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function fail(message: string): never {
  throw new DisplayFormatError(`display stream: ${message}`);
}

function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_SEQUENCE;
}

function typeName(type: number): string {
  switch (type) {
    case MessageType.mode:
      return 'MODE';
    case MessageType.frame:
      return 'FRAME';
    case MessageType.cursor:
      return 'CURSOR';
    case MessageType.ack:
      return 'ACK';
    default:
      return `type ${type}`;
  }
}

/** A view of the bytes of a binary message, whichever way the transport delivered it. */
export function messageBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const kind = data === null ? 'null' : typeof data === 'object' ? 'an object' : typeof data;
  return fail(`expected a binary message (ArrayBuffer or typed array), got ${kind}`);
}

function writeHeader(view: DataView, type: number, sequence: number): void {
  if (!isUint32(sequence)) fail(`sequence ${sequence} is not an unsigned 32-bit integer`);
  MAGIC_BYTES.forEach((byte, i) => view.setUint8(i, byte));
  view.setUint16(4, DISPLAY_STREAM_VERSION, true);
  view.setUint16(6, type, true);
  view.setUint32(8, sequence, true);
  view.setUint32(12, view.byteLength, true);
}

/**
 * Checks and reads the 16-byte header at the start of `data`. With a byte-stream transport,
 * read the header as soon as 16 bytes are in, then wait for `byteLength` bytes in all.
 */
export function readHeader(data: ArrayBuffer | ArrayBufferView): MessageHeader {
  const bytes = messageBytes(data);
  if (bytes.byteLength < HEADER_BYTES) {
    fail(`truncated message: ${bytes.byteLength} bytes, a header alone is ${HEADER_BYTES}`);
  }
  for (let i = 0; i < MAGIC_BYTES.length; i++) {
    if (bytes[i] !== MAGIC_BYTES[i]) fail('not a display stream message (magic is not "NBFS")');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const version = view.getUint16(4, true);
  if (version !== DISPLAY_STREAM_VERSION) {
    fail(
      `unsupported version ${version}; this reader implements version ${DISPLAY_STREAM_VERSION}`,
    );
  }
  const byteLength = view.getUint32(12, true);
  if (byteLength < HEADER_BYTES || byteLength % 8 !== 0) {
    fail(`header length ${byteLength} is not a multiple of 8 of at least ${HEADER_BYTES}`);
  }
  return {
    version,
    type: view.getUint16(6, true),
    sequence: view.getUint32(8, true),
    byteLength,
  };
}

/** MODE: the screen the following FRAMEs show, or `null` when the display is off. */
export function encodeMode(sequence: number, mode: DisplayMode | null): ArrayBuffer {
  const buffer = new ArrayBuffer(MODE_MESSAGE_BYTES);
  const view = new DataView(buffer);
  writeHeader(view, MessageType.mode, sequence);
  if (mode !== null) {
    checkDimensions(mode.width, mode.height, 'mode');
    if (mode.format !== 'x8r8g8b8') fail(`unsupported pixel format ${String(mode.format)}`);
    view.setUint32(16, mode.width, true);
    view.setUint32(20, mode.height, true);
    view.setUint32(24, PixelFormatCode.x8r8g8b8, true);
  }
  return buffer;
}

/** ACK (viewer → host): every message up to and including `sequence` has been handled. */
export function encodeAck(sequence: number): ArrayBuffer {
  const buffer = new ArrayBuffer(ACK_MESSAGE_BYTES);
  writeHeader(new DataView(buffer), MessageType.ack, sequence);
  return buffer;
}

export interface FrameToEncode {
  sequence: number;
  /** The mode's geometry; every rectangle lies inside it. */
  width: number;
  height: number;
  /** The framebuffer, BGRX: pixel (x, y) starts at byte y × stride + x × 4. Read, not kept. */
  pixels: Uint8Array;
  stride: number;
  /** At least one, inside the frame; each is copied from `pixels` now. */
  rects: readonly Rect[];
  /** Marks a whole-frame update; `rects` must then be the one rectangle covering the frame. */
  full?: boolean;
}

function checkDimensions(width: number, height: number, what: string): void {
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
      fail(`${what} ${name} ${value} is outside 1..${MAX_DIMENSION}`);
    }
  }
}

function rectInside(rect: Rect, width: number, height: number): boolean {
  const { x, y, width: w, height: h } = rect;
  return (
    [x, y, w, h].every((n) => Number.isInteger(n) && n >= 0) &&
    w > 0 &&
    h > 0 &&
    x + w <= width &&
    y + h <= height
  );
}

function describeRect(r: Rect): string {
  return `${r.width}×${r.height} at (${r.x}, ${r.y})`;
}

/**
 * FRAME: the given rectangles of the framebuffer, each copied row by row into the message
 * (only those rectangles are read). The result is a fresh ArrayBuffer the caller may transfer.
 */
export function encodeFrame(frame: FrameToEncode): ArrayBuffer {
  const { width, height, pixels, stride, rects } = frame;
  checkDimensions(width, height, 'frame');
  if (rects.length < 1 || rects.length > MAX_FRAME_RECTS) {
    fail(`a FRAME carries 1..${MAX_FRAME_RECTS} rectangles, got ${rects.length}`);
  }
  if (!Number.isInteger(stride) || stride < width * BYTES_PER_PIXEL) {
    fail(`stride ${stride} is shorter than a ${width}-pixel line`);
  }
  const full = frame.full === true;
  if (full && !coversFrame(rects, width, height)) {
    fail('a full FRAME is exactly one rectangle covering the frame');
  }
  let byteLength = FRAME_PREAMBLE_BYTES + rects.length * FRAME_RECT_ENTRY_BYTES;
  for (const rect of rects) {
    if (!rectInside(rect, width, height)) {
      fail(`rectangle ${describeRect(rect)} is outside the ${width}×${height} frame`);
    }
    const lastByte = (rect.y + rect.height - 1) * stride + (rect.x + rect.width) * BYTES_PER_PIXEL;
    if (lastByte > pixels.byteLength) {
      fail(
        `rectangle ${describeRect(rect)} reaches past the ${pixels.byteLength}-byte framebuffer`,
      );
    }
    byteLength += align8(rect.width * rect.height * BYTES_PER_PIXEL);
  }
  if (byteLength > MAX_SEQUENCE) fail(`a ${byteLength}-byte FRAME does not fit the length field`);

  const buffer = new ArrayBuffer(byteLength);
  const view = new DataView(buffer);
  const out = new Uint8Array(buffer);
  writeHeader(view, MessageType.frame, frame.sequence);
  view.setUint32(16, width, true);
  view.setUint32(20, height, true);
  view.setUint32(24, rects.length, true);
  view.setUint32(28, full ? FRAME_FLAG_FULL : 0, true);
  let entry = FRAME_PREAMBLE_BYTES;
  let data = FRAME_PREAMBLE_BYTES + rects.length * FRAME_RECT_ENTRY_BYTES;
  for (const rect of rects) {
    const rowBytes = rect.width * BYTES_PER_PIXEL;
    const dataLength = rowBytes * rect.height;
    view.setUint32(entry, rect.x, true);
    view.setUint32(entry + 4, rect.y, true);
    view.setUint32(entry + 8, rect.width, true);
    view.setUint32(entry + 12, rect.height, true);
    view.setUint32(entry + 16, RectEncoding.raw, true);
    view.setUint32(entry + 20, dataLength, true);
    entry += FRAME_RECT_ENTRY_BYTES;
    const first = rect.y * stride + rect.x * BYTES_PER_PIXEL;
    if (rowBytes === stride) {
      // Whole lines of an unpadded framebuffer: one copy.
      out.set(pixels.subarray(first, first + dataLength), data);
    } else {
      for (let row = 0; row < rect.height; row++) {
        const from = first + row * stride;
        out.set(pixels.subarray(from, from + rowBytes), data + row * rowBytes);
      }
    }
    data += align8(dataLength);
  }
  return buffer;
}

function coversFrame(rects: readonly Rect[], width: number, height: number): boolean {
  const [only] = rects;
  return (
    rects.length === 1 &&
    only !== undefined &&
    only.x === 0 &&
    only.y === 0 &&
    only.width === width &&
    only.height === height
  );
}

/**
 * Decodes and validates one whole message. Anything malformed — truncated, trailing bytes,
 * wrong magic or version, unknown mandatory type, a rectangle outside the frame, a bad data
 * length — throws DisplayFormatError. Pixel data is returned as views into `data`.
 */
export function decodeMessage(data: ArrayBuffer | ArrayBufferView): DisplayMessage {
  const bytes = messageBytes(data);
  const header = readHeader(bytes);
  const name = typeName(header.type);
  if (header.byteLength !== bytes.byteLength) {
    fail(
      `${name} says it is ${header.byteLength} bytes long but ${bytes.byteLength} bytes arrived` +
        (header.byteLength > bytes.byteLength ? ' (truncated)' : ''),
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { sequence } = header;
  switch (header.type) {
    case MessageType.mode:
      return { type: 'mode', sequence, mode: decodeModeBody(view) };
    case MessageType.frame:
      return decodeFrameBody(view, bytes, sequence);
    case MessageType.ack:
      if (bytes.byteLength !== ACK_MESSAGE_BYTES) {
        fail(`ACK is ${ACK_MESSAGE_BYTES} bytes, got ${bytes.byteLength}`);
      }
      return { type: 'ack', sequence };
    default:
      if ((header.type & OPTIONAL_TYPE_BIT) !== 0) {
        return { type: 'ignored', sequence, messageType: header.type };
      }
      return fail(`${name} is not a message type of version ${DISPLAY_STREAM_VERSION}`);
  }
}

function decodeModeBody(view: DataView): DisplayMode | null {
  if (view.byteLength !== MODE_MESSAGE_BYTES) {
    fail(`MODE is ${MODE_MESSAGE_BYTES} bytes, got ${view.byteLength}`);
  }
  const width = view.getUint32(16, true);
  const height = view.getUint32(20, true);
  const format = view.getUint32(24, true);
  if (format === PixelFormatCode.off) {
    if (width !== 0 || height !== 0) fail(`MODE "display off" has a ${width}×${height} size`);
    return null;
  }
  if (format !== PixelFormatCode.x8r8g8b8) fail(`MODE has unknown pixel format ${format}`);
  checkDimensions(width, height, 'MODE');
  return { width, height, format: 'x8r8g8b8' };
}

function decodeFrameBody(view: DataView, bytes: Uint8Array, sequence: number): DisplayMessage {
  if (view.byteLength < FRAME_PREAMBLE_BYTES) {
    fail(`truncated FRAME: ${view.byteLength} bytes, its preamble is ${FRAME_PREAMBLE_BYTES}`);
  }
  const width = view.getUint32(16, true);
  const height = view.getUint32(20, true);
  const count = view.getUint32(24, true);
  const flags = view.getUint32(28, true);
  checkDimensions(width, height, 'FRAME');
  if (count < 1 || count > MAX_FRAME_RECTS) {
    fail(`FRAME rectangle count ${count} is outside 1..${MAX_FRAME_RECTS}`);
  }
  if ((flags & ~FRAME_FLAG_FULL) !== 0) fail(`FRAME has unknown flags 0x${flags.toString(16)}`);
  let data = FRAME_PREAMBLE_BYTES + count * FRAME_RECT_ENTRY_BYTES;
  if (data > view.byteLength) {
    fail(`truncated FRAME: ${count} rectangles need a ${data}-byte table, have ${view.byteLength}`);
  }
  const rects: DecodedRect[] = [];
  for (let i = 0; i < count; i++) {
    const entry = FRAME_PREAMBLE_BYTES + i * FRAME_RECT_ENTRY_BYTES;
    const rect: Rect = {
      x: view.getUint32(entry, true),
      y: view.getUint32(entry + 4, true),
      width: view.getUint32(entry + 8, true),
      height: view.getUint32(entry + 12, true),
    };
    const encoding = view.getUint32(entry + 16, true);
    const dataLength = view.getUint32(entry + 20, true);
    if (!rectInside(rect, width, height)) {
      fail(`FRAME rectangle ${i} (${describeRect(rect)}) is outside the ${width}×${height} frame`);
    }
    if (encoding !== RectEncoding.raw)
      fail(`FRAME rectangle ${i} has unknown encoding ${encoding}`);
    const expected = rect.width * rect.height * BYTES_PER_PIXEL;
    if (dataLength !== expected) {
      fail(
        `FRAME rectangle ${i} has ${dataLength} data bytes; raw ${describeRect(rect)} is ${expected}`,
      );
    }
    if (data + dataLength > view.byteLength) {
      fail(`truncated FRAME: rectangle ${i}'s pixels end past the message`);
    }
    rects.push({ ...rect, pixels: bytes.subarray(data, data + dataLength) });
    data += align8(dataLength);
  }
  if (data !== view.byteLength) {
    fail(`FRAME has ${view.byteLength - data} bytes after its last rectangle`);
  }
  const full = (flags & FRAME_FLAG_FULL) !== 0;
  if (full && !coversFrame(rects, width, height)) {
    fail('a full FRAME must be exactly one rectangle covering the frame');
  }
  return { type: 'frame', sequence, width, height, full, rects };
}

/**
 * The viewer's side of one connection: decodes each message and checks the ordering rules
 * across messages — sequences start at 0 and go up by one, the first message is a MODE, and
 * every FRAME matches the MODE before it. Make a new reader for every connection.
 */
export class DisplayStreamReader {
  private expected = 0;
  private last = -1;
  private current: DisplayMode | null | undefined = undefined;

  /** The mode in force: `undefined` before the first MODE, `null` while the display is off. */
  get mode(): DisplayMode | null | undefined {
    return this.current;
  }

  /** The sequence to acknowledge after handling the last message read, or -1 before any. */
  get lastSequence(): number {
    return this.last;
  }

  read(data: unknown): DisplayMessage {
    const message = decodeMessage(messageBytes(data));
    if (message.sequence !== this.expected) {
      fail(`message out of order: expected sequence ${this.expected}, got ${message.sequence}`);
    }
    if (message.type === 'ack') fail('ACK travels from the viewer to the host, not to a viewer');
    if (this.current === undefined && message.type !== 'mode') {
      fail(`the first message of a stream is a MODE, got ${message.type.toUpperCase()}`);
    }
    if (message.type === 'mode') this.current = message.mode;
    if (message.type === 'frame') {
      const mode = this.current;
      if (mode === null || mode === undefined) fail('FRAME while the display is off');
      if (message.width !== mode.width || message.height !== mode.height) {
        fail(
          `FRAME is ${message.width}×${message.height} but the mode is ${mode.width}×${mode.height}`,
        );
      }
    }
    this.last = message.sequence;
    this.expected = (this.expected + 1) >>> 0;
    return message;
  }
}

/**
 * Copies BGRX pixels (a decoded rectangle) into RGBA bytes (e.g. ImageData.data), every pixel
 * opaque. `rgba` holds at least as many pixels as `bgrx`.
 */
export function bgrxToRgba(bgrx: Uint8Array, rgba: Uint8Array | Uint8ClampedArray): void {
  if (rgba.length < bgrx.length) fail(`RGBA target of ${rgba.length} bytes is too small`);
  for (let i = 0; i + 3 < bgrx.length; i += 4) {
    rgba[i] = bgrx[i + 2] as number;
    rgba[i + 1] = bgrx[i + 1] as number;
    rgba[i + 2] = bgrx[i] as number;
    rgba[i + 3] = 255;
  }
}
