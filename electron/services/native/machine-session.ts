/**
 * A typed, promise-friendly wrapper around one native Machine, for the CLI
 * and services: listeners per event type, and promises for the requests that
 * complete with an event (pause, stop). Plain Node; the addon is passed in.
 */
import type {
  DiskConfig,
  ErrorEvent,
  Machine,
  MachineConfig,
  MachineEvent,
  MachineState,
  NativeAddon,
  ResetEvent,
  SerialEvent,
  SnapshotFiles,
  SnapshotSaveResult,
  StateEvent,
} from './native-addon.ts';

type EventOfType<T extends MachineEvent['type']> = Extract<MachineEvent, { type: T }>;
type Listener<T extends MachineEvent['type']> = (event: EventOfType<T>) => void;

/** How a machine ended: its last state event, and the error that explains it, if any. */
export interface MachineEnding {
  state: Extract<MachineState, 'stopped' | 'error'>;
  reason: StateEvent['reason'];
  error?: ErrorEvent;
}

export type MachineDisplay = Pick<
  Machine,
  | 'setDisplayStreaming'
  | 'requestFullDisplayFrame'
  | 'readDisplayFrame'
  | 'copyDisplayRects'
  | 'screenshot'
>;
export type MachineInput = Pick<
  Machine,
  'sendKey' | 'sendKeyCombo' | 'pointerMove' | 'pointerButton' | 'wheel' | 'releaseAllInput'
>;

export class MachineSession {
  readonly #machine: Machine;
  readonly #listeners: { [T in MachineEvent['type']]: Set<Listener<T>> } = {
    serial: new Set(),
    state: new Set(),
    reset: new Set(),
    error: new Set(),
    log: new Set(),
    'display-mode': new Set(),
    'display-damage': new Set(),
  };
  #lastError: ErrorEvent | undefined;
  readonly #ended: Promise<MachineEnding>;
  #resolveEnded!: (ending: MachineEnding) => void;

  /** Throws the addon's NativeError for a bad config, a missing kernel or unusable KVM. */
  constructor(addon: NativeAddon, config: MachineConfig) {
    this.#ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
    this.#machine = new addon.Machine(config, (event) => this.#dispatch(event));
  }

  get state(): MachineState {
    return this.#machine.state;
  }

  /** Resolves when the machine has stopped or failed (never rejects). */
  get ended(): Promise<MachineEnding> {
    return this.#ended;
  }

  on<T extends MachineEvent['type']>(type: T, listener: Listener<T>): () => void {
    const listeners = this.#listeners[type] as Set<Listener<T>>;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  start(): void {
    this.#machine.start();
  }

  /** Resolves with the pause latency in milliseconds once every vCPU is out of the guest. */
  pause(): Promise<number> {
    // Already paused (e.g. a second pause() after the first completed): nothing to wait for.
    if (this.#machine.state === 'paused') return Promise.resolve(0);
    const began = performance.now();
    return new Promise((resolve, reject) => {
      const off = this.on('state', (event) => {
        if (event.state === 'paused') {
          off();
          resolve(performance.now() - began);
        } else if (event.state === 'stopped' || event.state === 'error') {
          off();
          reject(new Error(`the machine ${event.state} while pausing (${event.reason ?? ''})`));
        }
      });
      try {
        this.#machine.pause();
      } catch (error) {
        off();
        reject(error as Error);
      }
    });
  }

  resume(): void {
    this.#machine.resume();
  }

  reset(): void {
    this.#machine.reset();
  }

  powerButton(): void {
    this.#machine.powerButton();
  }

  /** Asks for a power-off and resolves when the machine has stopped. */
  powerOff(): Promise<MachineEnding> {
    this.#machine.powerOff();
    return this.#ended;
  }

  sendSerialInput(data: Uint8Array | string): number {
    return this.#machine.sendSerialInput(
      typeof data === 'string' ? new TextEncoder().encode(data) : data,
    );
  }

  stats(): ReturnType<Machine['stats']> {
    return this.#machine.stats();
  }

  /** The guest display: streaming on/off, frames, screenshots (the addon's own methods). */
  get display(): MachineDisplay {
    return this.#machine;
  }

  /** Keyboard and pointer input (the addon's own methods). */
  get input(): MachineInput {
    return this.#machine;
  }

  /**
   * Writes the machine's state and RAM to `files`; the machine must be paused (pause() first).
   * `onProgress` gets RAM bytes dealt with out of the total.
   */
  saveSnapshot(
    files: SnapshotFiles,
    onProgress?: (done: number, total: number) => void,
  ): Promise<SnapshotSaveResult> {
    return this.#machine.saveSnapshot(files, onProgress);
  }

  /**
   * Continues a snapshot in place (running or paused; the machine stays so). Without
   * `ramFile`, RAM stays as it is: taking a snapshot switches to new disk overlays this way.
   */
  restoreSnapshot(
    files: { stateFile: string; ramFile?: string },
    disks: DiskConfig[],
  ): Promise<void> {
    return this.#machine.restoreSnapshot(files, disks);
  }

  close(): void {
    this.#machine.close();
  }

  #dispatch(event: MachineEvent): void {
    if (event.type === 'error') {
      this.#lastError = event;
    }
    for (const listener of this.#listeners[event.type] as Set<(e: MachineEvent) => void>) {
      listener(event);
    }
    if (event.type === 'state' && (event.state === 'stopped' || event.state === 'error')) {
      this.#resolveEnded({
        state: event.state,
        reason: event.reason,
        ...(this.#lastError ? { error: this.#lastError } : {}),
      });
    }
  }
}

export type { SerialEvent, ResetEvent };
