/**
 * From DOM keyboard events to the keys the guest gets. The VM host takes keys by their
 * `KeyboardEvent.code` (the physical key, whatever the host's layout), so the guest applies
 * its own layout, as on real hardware. Pure: the display component feeds it events.
 */
import { guestKeyCodes } from './guest-key-codes.ts';

/** The parts of a KeyboardEvent this module reads. */
export interface KeyInput {
  code: string;
  key: string;
  ctrlKey?: boolean;
  altKey?: boolean;
  shiftKey?: boolean;
  metaKey?: boolean;
  repeat?: boolean;
  isComposing?: boolean;
}

/** Older browsers' names for keys the standard renamed. */
const legacyCodes: Record<string, string> = {
  OSLeft: 'MetaLeft',
  OSRight: 'MetaRight',
  VolumeMute: 'AudioVolumeMute',
  VolumeDown: 'AudioVolumeDown',
  VolumeUp: 'AudioVolumeUp',
};

/**
 * When a browser gives no `code` (some virtual keyboards and remote-desktop clients send
 * 'Unidentified' or ''), the key's meaning picks the key of a US layout.
 */
const codesByKey: Record<string, string> = {
  ' ': 'Space',
  Enter: 'Enter',
  Tab: 'Tab',
  Escape: 'Escape',
  Backspace: 'Backspace',
  Delete: 'Delete',
  Insert: 'Insert',
  Home: 'Home',
  End: 'End',
  PageUp: 'PageUp',
  PageDown: 'PageDown',
  ArrowUp: 'ArrowUp',
  ArrowDown: 'ArrowDown',
  ArrowLeft: 'ArrowLeft',
  ArrowRight: 'ArrowRight',
  Shift: 'ShiftLeft',
  Control: 'ControlLeft',
  Alt: 'AltLeft',
  AltGraph: 'AltRight',
  Meta: 'MetaLeft',
  OS: 'MetaLeft',
  CapsLock: 'CapsLock',
  '-': 'Minus',
  '=': 'Equal',
  '[': 'BracketLeft',
  ']': 'BracketRight',
  ';': 'Semicolon',
  "'": 'Quote',
  '`': 'Backquote',
  '\\': 'Backslash',
  ',': 'Comma',
  '.': 'Period',
  '/': 'Slash',
};

/** The guest key for a DOM event, or null for a key the guest has no equivalent of. */
export function guestCodeFor(event: KeyInput): string | null {
  const code = legacyCodes[event.code] ?? event.code;
  if (guestKeyCodes.has(code)) return code;
  if (code !== '' && code !== 'Unidentified') return null;
  const { key } = event;
  if (/^[a-z]$/i.test(key)) return `Key${key.toUpperCase()}`;
  if (/^[0-9]$/.test(key)) return `Digit${key}`;
  if (/^F([1-9]|1[0-9]|2[0-4])$/.test(key)) return key;
  return codesByKey[key] ?? null;
}

// ---- the release-capture hotkey ---------------------------------------------------------------

export type HotkeyModifier = 'Ctrl' | 'Alt' | 'Shift' | 'Super';

/** Which keys make each modifier. */
const modifierCodes: Record<HotkeyModifier, readonly string[]> = {
  Ctrl: ['ControlLeft', 'ControlRight'],
  Alt: ['AltLeft', 'AltRight'],
  Shift: ['ShiftLeft', 'ShiftRight'],
  Super: ['MetaLeft', 'MetaRight'],
};

const modifierOfCode = new Map<string, HotkeyModifier>(
  (Object.entries(modifierCodes) as [HotkeyModifier, readonly string[]][]).flatMap(
    ([modifier, codes]) => codes.map((code) => [code, modifier] as const),
  ),
);

export function modifierOf(code: string): HotkeyModifier | undefined {
  return modifierOfCode.get(code);
}

/** The release combination: modifiers and at most one key, as preferences store it. */
export interface ReleaseHotkey {
  modifiers: ReadonlySet<HotkeyModifier>;
  /** A `KeyboardEvent.code`, or null for a combination of modifiers alone (Ctrl+Alt). */
  key: string | null;
}

export const DEFAULT_RELEASE_HOTKEY = 'Ctrl+Alt';

/**
 * Reads a normalized hotkey ("Ctrl+Alt", "Ctrl+Alt+KeyG") as settings.json keeps it.
 * Anything unreadable falls back to Ctrl+Alt: the user must always have a way out.
 */
export function parseReleaseHotkey(text: string | undefined): ReleaseHotkey {
  const fallback = { modifiers: new Set<HotkeyModifier>(['Ctrl', 'Alt']), key: null };
  if (!text) return fallback;
  const modifiers = new Set<HotkeyModifier>();
  let key: string | null = null;
  for (const part of text.split('+').map((p) => p.trim())) {
    if (part === 'Ctrl' || part === 'Alt' || part === 'Shift' || part === 'Super') {
      modifiers.add(part);
    } else if (key === null && guestKeyCodes.has(part) && !modifierOf(part)) {
      key = part;
    } else {
      return fallback;
    }
  }
  if (modifiers.size === 0 || (key === null && modifiers.size < 2)) return fallback;
  return { modifiers, key };
}

/** A key code as printed on the key: KeyG → G, Digit5 → 5, ArrowUp → Up. */
export function keyLabel(code: string): string {
  if (/^Key[A-Z]$/.test(code)) return code.slice(3);
  if (/^Digit[0-9]$/.test(code)) return code.slice(5);
  if (code.startsWith('Arrow')) return code.slice(5);
  if (code === 'Escape') return 'Esc';
  return code;
}

/** "Ctrl+Alt", "Ctrl+Alt+G": the combination as people read it. */
export function formatHotkey(hotkey: ReleaseHotkey): string {
  const order: HotkeyModifier[] = ['Ctrl', 'Alt', 'Shift', 'Super'];
  const parts: string[] = order.filter((modifier) => hotkey.modifiers.has(modifier));
  if (hotkey.key) parts.push(keyLabel(hotkey.key));
  return parts.join('+');
}

/** The hint shown while the display has the keyboard. */
export function releaseHint(hotkey: ReleaseHotkey): string {
  return `Press ${formatHotkey(hotkey)} to release`;
}

// ---- capture ----------------------------------------------------------------------------------

export type CaptureAction =
  | { type: 'key'; code: string; pressed: boolean }
  /** The release combination: stop capturing (every held key was let go first). */
  | { type: 'release' };

/**
 * The keyboard while the display has it: turns keydown/keyup into guest key presses, drops
 * auto-repeat (the guest repeats on its own, as with a real keyboard) and spots the release
 * combination.
 *
 * A combination of modifiers alone (Ctrl+Alt) releases when it is let go *without another
 * key pressed in between*, so Ctrl+Alt+Delete or Ctrl+Alt+F2 still reach the guest. A
 * combination with a key (Ctrl+Alt+G) releases when that key goes down, and the key is not
 * sent. Either way the guest sees every key it got go up again before the release.
 */
export class KeyboardCapture {
  readonly hotkey: ReleaseHotkey;
  /** Keys the guest was told are down, in the order they went down. */
  #held: string[] = [];
  /** The modifiers-only combination was fully down, with nothing else pressed since. */
  #armed = false;

  constructor(hotkey: ReleaseHotkey | string | undefined) {
    this.hotkey = typeof hotkey === 'object' ? hotkey : parseReleaseHotkey(hotkey);
  }

  /** Keys the guest believes are held. */
  get held(): readonly string[] {
    return this.#held;
  }

  keyDown(event: KeyInput): CaptureAction[] {
    if (event.isComposing) return [];
    const code = guestCodeFor(event);
    if (code === null) return [];
    if (this.#held.includes(code)) return []; // auto-repeat, or a press we already sent

    const modifier = modifierOf(code);
    if (this.hotkey.key !== null && code === this.hotkey.key && this.#comboModifiersHeld()) {
      return this.#release();
    }
    this.#held.push(code);
    if (this.hotkey.key === null) {
      if (modifier && this.hotkey.modifiers.has(modifier)) {
        this.#armed = this.#armed || this.#onlyComboModifiersHeld();
      } else {
        this.#armed = false; // Ctrl+Alt+Delete: for the guest, not a release
      }
    }
    return [{ type: 'key', code, pressed: true }];
  }

  keyUp(event: KeyInput): CaptureAction[] {
    const code = guestCodeFor(event);
    if (code === null || !this.#held.includes(code)) return [];
    const modifier = modifierOf(code);
    if (this.#armed && modifier && this.hotkey.modifiers.has(modifier)) {
      return this.#release();
    }
    this.#held = this.#held.filter((held) => held !== code);
    if (this.#held.length === 0) this.#armed = false;
    return [{ type: 'key', code, pressed: false }];
  }

  /** Lets go of everything the guest holds (focus left the display): key-ups, newest first. */
  releaseAll(): CaptureAction[] {
    const ups = [...this.#held]
      .reverse()
      .map((code): CaptureAction => ({ type: 'key', code, pressed: false }));
    this.#held = [];
    this.#armed = false;
    return ups;
  }

  #release(): CaptureAction[] {
    return [...this.releaseAll(), { type: 'release' }];
  }

  #heldModifiers(): Set<HotkeyModifier> {
    const set = new Set<HotkeyModifier>();
    for (const code of this.#held) {
      const modifier = modifierOf(code);
      if (modifier) set.add(modifier);
    }
    return set;
  }

  #comboModifiersHeld(): boolean {
    const held = this.#heldModifiers();
    return [...this.hotkey.modifiers].every((modifier) => held.has(modifier));
  }

  #onlyComboModifiersHeld(): boolean {
    const everyHeldIsComboModifier = this.#held.every((code) => {
      const modifier = modifierOf(code);
      return modifier !== undefined && this.hotkey.modifiers.has(modifier);
    });
    return everyHeldIsComboModifier && this.#comboModifiersHeld();
  }
}
