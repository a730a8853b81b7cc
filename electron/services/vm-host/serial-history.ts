/**
 * The guest's most recent serial output, bounded: what a console that attaches late is shown
 * first (the login prompt printed before anyone listened).
 */
export class SerialHistory {
  readonly #chunks: Uint8Array[] = [];
  #bytes = 0;

  constructor(private readonly capacity: number) {}

  add(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    // Copy: the addon's buffer is only lent for the event.
    const kept = bytes.byteLength > this.capacity ? bytes.subarray(-this.capacity) : bytes;
    this.#chunks.push(Uint8Array.from(kept));
    this.#bytes += kept.byteLength;
    while (this.#bytes > this.capacity) {
      const first = this.#chunks[0] as Uint8Array;
      const excess = this.#bytes - this.capacity;
      if (first.byteLength <= excess) {
        this.#chunks.shift();
        this.#bytes -= first.byteLength;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#bytes -= excess;
      }
    }
  }

  /** Everything kept, oldest first, as one buffer. */
  contents(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }
}
