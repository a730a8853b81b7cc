/**
 * Serial input for the guest, delivered in full. The UART's receive buffer takes only what
 * fits (4 KiB) and is empty while the machine reboots, so what it refuses waits here and is
 * offered again every few milliseconds, in order, until the guest has read it all. The queue
 * is bounded: past `capacity` bytes, input is refused rather than buffered without end.
 */
import { HostProtocolError } from './protocol.ts';

export const DEFAULT_SERIAL_QUEUE_BYTES = 1024 * 1024;
const RETRY_MS = 5;

export interface SerialInputQueueOptions {
  capacity?: number;
  retryMs?: number;
}

export class SerialInputQueue {
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #capacity: number;
  readonly #retryMs: number;

  /** `deliver` hands bytes to the guest and returns how many it took (the machine's sendSerialInput). */
  constructor(
    private readonly deliver: (bytes: Uint8Array) => number,
    options: SerialInputQueueOptions = {},
  ) {
    this.#capacity = options.capacity ?? DEFAULT_SERIAL_QUEUE_BYTES;
    this.#retryMs = options.retryMs ?? RETRY_MS;
  }

  /** Bytes waiting for the guest. */
  get queued(): number {
    return this.#queued;
  }

  /** Queues `bytes` after everything before it; throws 'input-full' when they do not fit. */
  push(bytes: Uint8Array): void {
    if (this.#closed) throw new HostProtocolError('shutting-down', 'the VM has stopped');
    if (bytes.byteLength === 0) return;
    if (this.#queued + bytes.byteLength > this.#capacity) {
      throw new HostProtocolError(
        'input-full',
        `the guest has not read the last ${this.#queued} bytes of serial input; try again later`,
      );
    }
    // Copy: the caller's buffer (a socket chunk) may be a view of a larger one.
    this.#chunks.push(Uint8Array.from(bytes));
    this.#queued += bytes.byteLength;
    this.#flush();
  }

  /** Drops what is queued and stops retrying. */
  close(): void {
    this.#closed = true;
    this.#chunks.length = 0;
    this.#queued = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #flush(): void {
    if (this.#timer) return;
    while (this.#chunks.length > 0) {
      const chunk = this.#chunks[0] as Uint8Array;
      let taken: number;
      try {
        taken = this.deliver(chunk);
      } catch {
        // The machine is gone (or not taking input): nothing will ever read these bytes.
        this.close();
        return;
      }
      this.#queued -= taken;
      if (taken >= chunk.byteLength) {
        this.#chunks.shift();
        continue;
      }
      this.#chunks[0] = chunk.subarray(taken);
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#flush();
      }, this.#retryMs);
      return;
    }
  }
}
