/**
 * One-at-a-time execution per key: tasks with the same key run in the order they were
 * queued, each after the previous one settled; tasks with different keys run concurrently.
 * The VM library keys it by VM folder, so two edits of one vm.json never interleave their
 * read-modify-write, while operations on different VMs proceed in parallel.
 */
export class KeyedMutex {
  /** Per key, a promise that settles when the last queued task is done. */
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      // Forget idle keys so the map does not grow with every VM ever touched.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Whether any task holds or waits for the key (for tests and diagnostics). */
  isBusy(key: string): boolean {
    return this.#tails.has(key);
  }
}
