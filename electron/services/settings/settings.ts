/**
 * The app's preferences (settings.json): what they are, their defaults, and validation.
 * Reading is forgiving — each bad or missing field falls back to its default and bad ones are
 * reported — while changes from the UI are checked strictly and refused whole.
 */
import path from 'node:path';
import {
  IssueList,
  describeValue,
  joinPath,
  readBoolean,
  readChoice,
  readObject,
  readString,
  type ValidationIssue,
  type Validated,
} from '../library/validation.ts';

export const SETTINGS_SCHEMA_VERSION = 1;

export const themes = ['system', 'light', 'dark'] as const;
export type Theme = (typeof themes)[number];

/** What quitting the app does to VMs still running (each runs in its own VM host process). */
export const quitActions = ['keep-running', 'suspend', 'power-off'] as const;
export type QuitAction = (typeof quitActions)[number];

export interface Settings {
  schemaVersion: typeof SETTINGS_SCHEMA_VERSION;
  /** The VM library's root; null: the default (see library-paths.ts). Absolute. */
  vmFolder: string | null;
  theme: Theme;
  hotkeys: {
    /** Releases keyboard and pointer from the VM display, e.g. "Ctrl+Alt" (normalized). */
    releaseKeyboard: string;
  };
  /** Ask before these (the dialogs' "don't ask again" turns them off). */
  confirmations: {
    deleteVm: boolean;
    revertSnapshot: boolean;
  };
  onQuitWithRunningVms: QuitAction;
}

export const defaultSettings: Readonly<Settings> = Object.freeze({
  schemaVersion: SETTINGS_SCHEMA_VERSION,
  vmFolder: null,
  theme: 'system',
  hotkeys: Object.freeze({ releaseKeyboard: 'Ctrl+Alt' }),
  confirmations: Object.freeze({ deleteVm: true, revertSnapshot: true }),
  onQuitWithRunningVms: 'keep-running',
});

export function cloneSettings(settings: Readonly<Settings>): Settings {
  return {
    ...settings,
    hotkeys: { ...settings.hotkeys },
    confirmations: { ...settings.confirmations },
  };
}

const modifierOrder = ['Ctrl', 'Alt', 'Shift', 'Super'] as const;
const modifierAliases: Record<string, (typeof modifierOrder)[number]> = {
  ctrl: 'Ctrl',
  control: 'Ctrl',
  alt: 'Alt',
  shift: 'Shift',
  super: 'Super',
  meta: 'Super',
  win: 'Super',
};
/** Keys by their DOM `KeyboardEvent.code`, the names the display's key handling uses. */
const hotkeyKey =
  /^(?:Key[A-Z]|Digit[0-9]|F(?:[1-9]|1\d|2[0-4])|Escape|Space|Enter|Tab|Backspace|Insert|Delete|Home|End|PageUp|PageDown|Arrow(?:Up|Down|Left|Right)|Pause|ScrollLock|PrintScreen)$/;

/**
 * "ctrl+alt" → "Ctrl+Alt", "Alt+Ctrl+KeyG" → "Ctrl+Alt+KeyG". At least one modifier; a
 * combination of modifiers alone needs two (Ctrl by itself would fire on every shortcut
 * the guest should get).
 */
export function parseHotkey(text: string): Validated<string> {
  const fail = (message: string): Validated<string> => ({
    ok: false,
    issues: [{ path: '', message }],
  });
  const parts = text.split('+').map((part) => part.trim());
  if (parts.some((part) => part === '')) {
    return fail(`must be keys joined by "+" such as "Ctrl+Alt", not ${describeValue(text)}`);
  }
  const modifiers = new Set<(typeof modifierOrder)[number]>();
  let key: string | undefined;
  for (const part of parts) {
    const modifier = modifierAliases[part.toLowerCase()];
    if (modifier) {
      modifiers.add(modifier);
    } else if (hotkeyKey.test(part)) {
      if (key !== undefined)
        return fail(`has two keys (${key}, ${part}); use one key with modifiers`);
      key = part;
    } else {
      return fail(
        `"${part}" is not a modifier (Ctrl, Alt, Shift, Super) or a key code such as KeyG or F12`,
      );
    }
  }
  if (modifiers.size === 0) return fail('needs at least one of Ctrl, Alt, Shift or Super');
  if (key === undefined && modifiers.size < 2) {
    return fail('needs a second modifier or a key: one modifier alone is too easy to press');
  }
  const ordered = modifierOrder.filter((modifier) => modifiers.has(modifier));
  return { ok: true, value: [...ordered, ...(key ? [key] : [])].join('+') };
}

function readVmFolder(issues: IssueList, value: unknown, at: string): string | null | undefined {
  if (value === null) return null;
  const text = readString(issues, value, at, { minLength: 1, maxLength: 4096 });
  if (text === undefined) return undefined;
  if (!path.isAbsolute(text)) {
    issues.add(
      at,
      `must be an absolute path (or null for the default), not ${describeValue(text)}`,
    );
    return undefined;
  }
  return path.normalize(text);
}

function readHotkey(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at);
  if (text === undefined) return undefined;
  const parsed = parseHotkey(text);
  if (!parsed.ok) {
    for (const issue of parsed.issues) issues.add(at, issue.message);
    return undefined;
  }
  return parsed.value;
}

export interface SettingsRead {
  settings: Settings;
  /** Fields that were wrong and fell back to their defaults; empty when the file was fine. */
  issues: ValidationIssue[];
}

/**
 * Reads a parsed settings.json leniently: missing fields take their defaults silently (an
 * older file), wrong or unknown ones take their defaults and are reported.
 */
export function readSettings(raw: unknown): SettingsRead {
  const issues = new IssueList();
  const settings = cloneSettings(defaultSettings);
  const record = readObject(issues, raw, '', {
    required: [],
    optional: [
      'schemaVersion',
      'vmFolder',
      'theme',
      'hotkeys',
      'confirmations',
      'onQuitWithRunningVms',
    ],
  });
  if (!record) return { settings, issues: issues.issues };
  const has = (key: string) => Object.hasOwn(record, key);

  if (has('schemaVersion') && record['schemaVersion'] !== SETTINGS_SCHEMA_VERSION) {
    issues.add(
      'schemaVersion',
      `must be ${SETTINGS_SCHEMA_VERSION}, not ${describeValue(record['schemaVersion'])}`,
    );
  }
  if (has('vmFolder')) {
    const folder = readVmFolder(issues, record['vmFolder'], 'vmFolder');
    if (folder !== undefined) settings.vmFolder = folder;
  }
  if (has('theme'))
    settings.theme = readChoice(issues, record['theme'], 'theme', themes) ?? settings.theme;
  if (has('hotkeys')) {
    const hotkeys = readObject(issues, record['hotkeys'], 'hotkeys', {
      required: [],
      optional: ['releaseKeyboard'],
    });
    if (hotkeys && Object.hasOwn(hotkeys, 'releaseKeyboard')) {
      settings.hotkeys.releaseKeyboard =
        readHotkey(issues, hotkeys['releaseKeyboard'], 'hotkeys.releaseKeyboard') ??
        settings.hotkeys.releaseKeyboard;
    }
  }
  if (has('confirmations')) {
    const confirmations = readObject(issues, record['confirmations'], 'confirmations', {
      required: [],
      optional: ['deleteVm', 'revertSnapshot'],
    });
    for (const key of ['deleteVm', 'revertSnapshot'] as const) {
      if (!confirmations || !Object.hasOwn(confirmations, key)) continue;
      settings.confirmations[key] =
        readBoolean(issues, confirmations[key], joinPath('confirmations', key)) ??
        settings.confirmations[key];
    }
  }
  if (has('onQuitWithRunningVms')) {
    settings.onQuitWithRunningVms =
      readChoice(issues, record['onQuitWithRunningVms'], 'onQuitWithRunningVms', quitActions) ??
      settings.onQuitWithRunningVms;
  }
  return { settings, issues: issues.issues };
}

export interface SettingsPatch {
  vmFolder?: string | null;
  theme?: Theme;
  hotkeys?: Partial<Settings['hotkeys']>;
  confirmations?: Partial<Settings['confirmations']>;
  onQuitWithRunningVms?: QuitAction;
}

/** Applies an untrusted patch strictly: any bad field refuses the whole change. */
export function applySettingsPatch(current: Settings, patch: unknown): Validated<Settings> {
  const issues = new IssueList();
  const patchable = ['vmFolder', 'theme', 'hotkeys', 'confirmations', 'onQuitWithRunningVms'];
  if (isPlainObject(patch) && Object.hasOwn(patch, 'schemaVersion')) {
    issues.add('schemaVersion', 'is managed by Nestbox');
  }
  const record = readObject(issues, patch, '', {
    required: [],
    // schemaVersion is reported above; readObject should not call it unknown as well.
    optional: [...patchable, 'schemaVersion'],
  });
  if (!record) return { ok: false, issues: issues.issues };
  // Merge, then read leniently: every bad field is an issue, and issues refuse the patch.
  const merged: Record<string, unknown> = { ...current };
  for (const key of patchable) if (Object.hasOwn(record, key)) merged[key] = record[key];
  if (Object.hasOwn(record, 'hotkeys')) {
    merged['hotkeys'] = isPlainObject(record['hotkeys'])
      ? { ...current.hotkeys, ...record['hotkeys'] }
      : record['hotkeys'];
  }
  if (Object.hasOwn(record, 'confirmations')) {
    merged['confirmations'] = isPlainObject(record['confirmations'])
      ? { ...current.confirmations, ...record['confirmations'] }
      : record['confirmations'];
  }
  const read = readSettings(merged);
  const all = [...issues.issues, ...read.issues];
  return all.length > 0 ? { ok: false, issues: all } : { ok: true, value: read.settings };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
