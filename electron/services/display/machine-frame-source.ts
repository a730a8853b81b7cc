/**
 * The FrameSource of a running machine: the addon's display events and frames.
 *
 * The addon compares the guest's framebuffer against a shadow copy only while someone
 * listens for damage (setDisplayStreaming), so an unwatched VM costs nothing. The source keeps
 * one copy of the visible frame and brings it up to date with only the damaged rectangles
 * (copyDisplayRects), so a small change costs a small copy; a new mode takes one full copy.
 */
import type { Rect } from '../../common/display-frame-format.ts';
import type { MachineSession } from '../native/machine-session.ts';
import type { DisplayModeEvent, DisplayDamageEvent } from '../native/native-addon.ts';
import type { FrameSource, FramebufferMode } from './display-stream.ts';

const BYTES_PER_PIXEL = 4;

export class MachineFrameSource implements FrameSource {
  readonly #session: MachineSession;
  #mode: FramebufferMode | null;
  /** The visible frame as of the last damage; empty until first needed after a mode change. */
  #pixels = new Uint8Array(0);
  #needsFullCopy = true;
  readonly #damageListeners = new Set<(rects: readonly Rect[]) => void>();
  readonly #modeListeners = new Set<(mode: FramebufferMode | null) => void>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(session: MachineSession) {
    this.#session = session;
    const frame = session.display.readDisplayFrame();
    this.#mode = frame ? toFramebufferMode(frame.mode) : null;
    const onMode = (event: DisplayModeEvent) => {
      const mode = event.mode ? toFramebufferMode(event.mode) : null;
      // The machine announces its mode when it is created, which may reach us after we
      // read it: the same mode again is no change.
      if (mode?.width === this.#mode?.width && mode?.height === this.#mode?.height) return;
      this.#mode = mode;
      this.#needsFullCopy = true;
      for (const listener of [...this.#modeListeners]) listener(this.#mode);
    };
    const onDamage = (event: DisplayDamageEvent) => {
      const current = this.#mode;
      // Damage computed just before a mode change can arrive after its event: the full
      // frame of the new mode follows anyway.
      if (current?.width !== event.mode.width || current.height !== event.mode.height) return;
      const quads = event.rects;
      if (!this.#needsFullCopy && !session.display.copyDisplayRects(this.#pixels, quads)) {
        this.#needsFullCopy = true; // the mode changed under us: its event is on its way
      }
      const rects: Rect[] = [];
      for (let i = 0; i + 3 < quads.length; i += 4) {
        const [x = 0, y = 0, width = 0, height = 0] = quads.subarray(i, i + 4);
        rects.push({ x, y, width, height });
      }
      for (const listener of [...this.#damageListeners]) listener(rects);
    };
    this.#unsubscribe.push(
      session.on('display-mode', onMode),
      session.on('display-damage', onDamage),
    );
  }

  mode(): FramebufferMode | null {
    return this.#mode;
  }

  pixels(): Uint8Array {
    const mode = this.#mode;
    if (this.#needsFullCopy && mode) {
      if (this.#pixels.length !== mode.height * mode.stride) {
        this.#pixels = new Uint8Array(mode.height * mode.stride);
      }
      const whole = new Uint32Array([0, 0, mode.width, mode.height]);
      // False while a mode change is on its way: the stream sends nothing until it lands.
      this.#needsFullCopy = !this.#session.display.copyDisplayRects(this.#pixels, whole);
    }
    return this.#needsFullCopy ? new Uint8Array(0) : this.#pixels;
  }

  onDamage(listener: (rects: readonly Rect[]) => void): () => void {
    this.#damageListeners.add(listener);
    if (this.#damageListeners.size === 1) this.#session.display.setDisplayStreaming(true);
    return () => {
      if (this.#damageListeners.delete(listener) && this.#damageListeners.size === 0) {
        this.#session.display.setDisplayStreaming(false);
      }
    };
  }

  onModeChange(listener: (mode: FramebufferMode | null) => void): () => void {
    this.#modeListeners.add(listener);
    return () => this.#modeListeners.delete(listener);
  }

  /** Stops listening to the machine (and stops its damage tracking). */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    if (this.#damageListeners.size > 0) this.#session.display.setDisplayStreaming(false);
    this.#damageListeners.clear();
    this.#modeListeners.clear();
  }
}

function toFramebufferMode(mode: { width: number; height: number }): FramebufferMode {
  // readDisplayFrame() always returns tightly packed 32-bit pixels.
  return {
    width: mode.width,
    height: mode.height,
    stride: mode.width * BYTES_PER_PIXEL,
    format: 'x8r8g8b8',
  };
}
