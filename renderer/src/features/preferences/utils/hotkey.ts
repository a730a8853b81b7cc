/**
 * Keyboard shortcuts as settings.json keeps them: modifiers (Ctrl, Alt, Shift, Super) and at
 * most one key by `KeyboardEvent.code`, joined by "+", e.g. "Ctrl+Alt" or "Ctrl+Alt+KeyG".
 *
 * The rules MIRROR `parseHotkey` in electron/services/settings/settings.ts (which the renderer
 * cannot import); the service checks again when saving.
 */

const modifierOrder = ['Ctrl', 'Alt', 'Shift', 'Super'] as const;
type Modifier = (typeof modifierOrder)[number];

const modifierByCode: Record<string, Modifier> = {
  ControlLeft: 'Ctrl',
  ControlRight: 'Ctrl',
  AltLeft: 'Alt',
  AltRight: 'Alt',
  ShiftLeft: 'Shift',
  ShiftRight: 'Shift',
  MetaLeft: 'Super',
  MetaRight: 'Super',
  OSLeft: 'Super',
  OSRight: 'Super',
};

/** Keys a shortcut may use besides the modifiers (settings.ts `hotkeyKey`). */
const hotkeyKey =
  /^(?:Key[A-Z]|Digit[0-9]|F(?:[1-9]|1\d|2[0-4])|Escape|Space|Enter|Tab|Backspace|Insert|Delete|Home|End|PageUp|PageDown|Arrow(?:Up|Down|Left|Right)|Pause|ScrollLock|PrintScreen)$/;

export function hotkeyProblem(modifiers: ReadonlySet<Modifier>, key: string | null): string | null {
  if (key !== null && !hotkeyKey.test(key)) return `${key} can’t be part of a shortcut.`;
  if (modifiers.size === 0) return 'Use at least one of Ctrl, Alt, Shift or Super.';
  if (key === null && modifiers.size < 2) {
    return 'Use two modifiers, or a modifier and a key: one modifier alone is too easy to press.';
  }
  return null;
}

function join(modifiers: ReadonlySet<Modifier>, key: string | null): string {
  return [...modifierOrder.filter((m) => modifiers.has(m)), ...(key ? [key] : [])].join('+');
}

/** "Ctrl+Alt+KeyG" → "Ctrl+Alt+G", for people. */
export function describeHotkey(hotkey: string): string {
  return hotkey
    .split('+')
    .map((part) =>
      /^Key[A-Z]$/.test(part)
        ? part.slice(3)
        : /^Digit\d$/.test(part)
          ? part.slice(5)
          : part.startsWith('Arrow')
            ? part.slice(5)
            : part,
    )
    .join('+');
}

export type RecordResult =
  | { kind: 'pending'; preview: string }
  | { kind: 'done'; hotkey: string }
  | { kind: 'invalid'; message: string }
  | { kind: 'cancelled' };

/**
 * Records a shortcut from key presses: it ends at the first key that is not a modifier
 * (Ctrl+Alt+G), or, for modifiers alone, when they are let go (Ctrl+Alt). Escape alone cancels.
 */
export class HotkeyRecorder {
  #down = new Set<Modifier>();
  #seen = new Set<Modifier>();

  keyDown(code: string): RecordResult {
    const modifier = modifierByCode[code];
    if (modifier) {
      this.#down.add(modifier);
      this.#seen.add(modifier);
      return { kind: 'pending', preview: join(this.#seen, null) };
    }
    if (code === 'Escape' && this.#seen.size === 0) return { kind: 'cancelled' };
    const problem = hotkeyProblem(this.#seen, code);
    const result: RecordResult = problem
      ? { kind: 'invalid', message: problem }
      : { kind: 'done', hotkey: join(this.#seen, code) };
    this.#reset();
    return result;
  }

  keyUp(code: string): RecordResult {
    const modifier = modifierByCode[code];
    if (modifier) this.#down.delete(modifier);
    if (this.#down.size > 0 || this.#seen.size === 0) {
      return { kind: 'pending', preview: join(this.#seen, null) };
    }
    const problem = hotkeyProblem(this.#seen, null);
    const result: RecordResult = problem
      ? { kind: 'invalid', message: problem }
      : { kind: 'done', hotkey: join(this.#seen, null) };
    this.#reset();
    return result;
  }

  #reset() {
    this.#down.clear();
    this.#seen.clear();
  }
}
