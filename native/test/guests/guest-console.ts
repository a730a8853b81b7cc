/**
 * One machine running a test guest that talks on its serial console: the serial text,
 * every other event in arrival order (numbered), and waits with a deadline that fail with
 * the serial output (and early when the machine stops).
 */
import assert from 'node:assert/strict';
import { MachineSession } from '../../../electron/services/native/machine-session.ts';
import type {
  MachineConfig,
  MachineEvent,
  NativeAddon,
} from '../../../electron/services/native/native-addon.ts';

export interface RecordedEvent {
  seq: number;
  event: MachineEvent;
}

const EVENT_TYPES = [
  'serial',
  'state',
  'reset',
  'error',
  'log',
  'display-mode',
  'display-damage',
] as const satisfies readonly MachineEvent['type'][];

export class GuestConsole {
  readonly session: MachineSession;
  readonly events: RecordedEvent[] = [];
  serial = '';
  #seq = 0;
  readonly #decoder = new TextDecoder();

  constructor(
    addon: NativeAddon,
    config: MachineConfig,
    private readonly stepTimeoutMs = 60_000,
  ) {
    this.session = new MachineSession(addon, config);
    for (const type of EVENT_TYPES) {
      this.session.on(type, (event: MachineEvent) => {
        if (event.type === 'serial') {
          this.serial += this.#decoder.decode(event.data, { stream: true });
        } else {
          this.events.push({ seq: ++this.#seq, event });
        }
      });
    }
  }

  /** The sequence number the next event will get. */
  get mark(): number {
    return this.#seq + 1;
  }

  /** Events of `type` numbered `seq` or later. */
  since<T extends MachineEvent['type']>(
    seq: number,
    type: T,
  ): (RecordedEvent & { event: Extract<MachineEvent, { type: T }> })[] {
    return this.events.filter(
      (entry): entry is RecordedEvent & { event: Extract<MachineEvent, { type: T }> } =>
        entry.seq >= seq && entry.event.type === type,
    );
  }

  async until(what: string, done: () => boolean, timeoutMs = this.stepTimeoutMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      const state = this.session.state;
      if (state === 'stopped' || state === 'error') {
        assert.fail(`the machine ${state} while waiting for ${what}; serial:\n${this.serial}`);
      }
      if (performance.now() > deadline) {
        assert.fail(`timed out waiting for ${what}; serial:\n${this.serial}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** The first complete line after `from` (a serial offset) matching `pattern`. */
  async line(pattern: RegExp, from = 0): Promise<string> {
    let found: string | undefined;
    await this.until(`a line matching ${pattern}`, () => {
      const text = this.serial.slice(from);
      const end = text.lastIndexOf('\n');
      found = text
        .slice(0, end + 1)
        .split('\n')
        .find((line) => pattern.test(line));
      return found !== undefined;
    });
    return found ?? '';
  }

  /** Sends a one-byte command and waits for the answer line. */
  async command(byte: string, answer: RegExp): Promise<string> {
    const from = this.serial.length;
    assert.equal(this.session.sendSerialInput(byte), 1, `the guest's COM1 took "${byte}"`);
    return this.line(answer, from);
  }

  async finish(): Promise<void> {
    const state = this.session.state;
    if (state === 'running' || state === 'paused') await this.session.powerOff();
    this.session.close();
  }
}
