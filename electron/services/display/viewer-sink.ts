/**
 * Where a display stream's messages for one viewer go, and whether that viewer can take more
 * now. The stream sends only while `ready()`; otherwise it keeps the viewer's damage (bounded)
 * and asks to be told once the viewer can take more. Two adapters:
 *
 * - CreditViewerSink: the viewer acknowledges what it has handled (ACK messages, cumulative);
 *   at most `maxInFlight` messages are unacknowledged. Works over any transport that carries
 *   messages both ways: an Electron MessagePort, a WebSocket, a stream socket. This measures
 *   the viewer's real speed (decoding and painting included), so it is the one to prefer.
 * - WebSocketViewerSink: the socket's own `bufferedAmount` under a high-water mark, for a
 *   viewer that does not acknowledge. It polls while (and only while) a wait is outstanding.
 */
import { decodeMessage, messageBytes, readHeader } from '../../common/display-frame-format.ts';

export interface ViewerSink {
  /** Hands one whole message to the transport. Must not block; may throw if it is closed. */
  send(message: ArrayBuffer): void;
  /** Whether one more message may be sent now. */
  ready(): boolean;
  /**
   * Calls `callback` once, asynchronously, when `ready()` has become true. One wait at a time:
   * a new call replaces the previous callback, `null` cancels it. Sinks do no work (no timers)
   * while no wait is outstanding.
   */
  whenReady(callback: (() => void) | null): void;
}

export interface CreditViewerOptions {
  /** Unacknowledged messages allowed at once (default 2: one being painted, one on its way). */
  maxInFlight?: number;
}

/**
 * Credit-based flow control: the stream may have at most `maxInFlight` messages the viewer has
 * not acknowledged. The viewer sends an ACK (encodeAck(sequence)) after handling a message;
 * acknowledging a sequence acknowledges every earlier one. Feed whatever arrives from the viewer
 * to handleMessage().
 */
export class CreditViewerSink implements ViewerSink {
  private readonly maxInFlight: number;
  /** Sequence of the oldest message not yet acknowledged, and of the next one to be sent. */
  private oldestUnacked = 0;
  private nextSequence = 0;
  private started = false;
  private waiting: (() => void) | null = null;

  constructor(
    private readonly post: (message: ArrayBuffer) => void,
    options: CreditViewerOptions = {},
  ) {
    this.maxInFlight = options.maxInFlight ?? 2;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${this.maxInFlight}`);
    }
  }

  /** Messages sent and not yet acknowledged. */
  get inFlight(): number {
    return (this.nextSequence - this.oldestUnacked) >>> 0;
  }

  send(message: ArrayBuffer): void {
    const { sequence } = readHeader(message);
    if (!this.started) {
      this.started = true;
      this.oldestUnacked = sequence;
    }
    this.nextSequence = (sequence + 1) >>> 0;
    this.post(message);
  }

  ready(): boolean {
    return this.inFlight < this.maxInFlight;
  }

  whenReady(callback: (() => void) | null): void {
    this.waiting = callback;
    if (callback !== null && this.ready()) queueMicrotask(() => this.wake());
  }

  /**
   * Records that the viewer handled every message up to and including `sequence`. Returns
   * false (and changes nothing) for a sequence that was never sent or is already acknowledged.
   */
  acknowledge(sequence: number): boolean {
    const advance = (sequence + 1 - this.oldestUnacked) >>> 0;
    if (!this.started || advance === 0 || advance > this.inFlight) return false;
    this.oldestUnacked = (sequence + 1) >>> 0;
    if (this.waiting !== null) queueMicrotask(() => this.wake());
    return true;
  }

  /**
   * Takes a message from the viewer as the transport delivered it. Returns whether it was a
   * valid ACK of something in flight; anything else is ignored, never thrown, since a broken
   * viewer must not take down the host.
   */
  handleMessage(data: unknown): boolean {
    try {
      const message = decodeMessage(messageBytes(data));
      return message.type === 'ack' && this.acknowledge(message.sequence);
    } catch {
      return false;
    }
  }

  private wake(): void {
    const callback = this.waiting;
    if (callback === null || !this.ready()) return;
    this.waiting = null;
    callback();
  }
}

/** The part of a WebSocket (browser, `ws`, or our own) this sink uses. */
export interface WebSocketLike {
  /** Bytes queued by send() and not yet handed to the network. */
  readonly bufferedAmount: number;
  send(data: ArrayBuffer): void;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WebSocketViewerOptions {
  /** Send only while fewer bytes than this are queued (default 1 MiB). */
  highWaterMark?: number;
  /** How often to look at `bufferedAmount` while waiting (default 10 ms). */
  pollIntervalMs?: number;
  /** For tests; defaults to the global timers. */
  timers?: Timers;
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Back-pressure from the socket's send queue. A frame is sent whenever less than
 * `highWaterMark` bytes are queued, so at most one frame plus the mark is ever buffered.
 * WebSockets announce no "drained" event, so while a wait is outstanding this polls.
 */
export class WebSocketViewerSink implements ViewerSink {
  private readonly highWaterMark: number;
  private readonly pollIntervalMs: number;
  private readonly timers: Timers;
  private waiting: (() => void) | null = null;
  private timer: unknown = null;

  constructor(
    private readonly socket: WebSocketLike,
    options: WebSocketViewerOptions = {},
  ) {
    this.highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.pollIntervalMs = options.pollIntervalMs ?? 10;
    this.timers = options.timers ?? defaultTimers;
  }

  send(message: ArrayBuffer): void {
    this.socket.send(message);
  }

  ready(): boolean {
    return this.socket.bufferedAmount < this.highWaterMark;
  }

  whenReady(callback: (() => void) | null): void {
    this.waiting = callback;
    if (callback === null) this.stopPolling();
    else if (this.timer === null) this.schedule();
  }

  private schedule(): void {
    this.timer = this.timers.setTimeout(() => this.poll(), this.pollIntervalMs);
  }

  private poll(): void {
    this.timer = null;
    const callback = this.waiting;
    if (callback === null) return;
    if (!this.ready()) {
      this.schedule();
      return;
    }
    this.waiting = null;
    callback();
  }

  private stopPolling(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}
