/**
 * settings.json on disk: `$XDG_CONFIG_HOME/nestbox/settings.json` (default
 * `~/.config/nestbox/settings.json`), or `$NESTBOX_HOME/settings.json` when NESTBOX_HOME is set.
 *
 * A broken file never stops the app: Nestbox starts with the defaults (keeping every field
 * that was still valid), reports the problem once, and keeps the file exactly as it was
 * beside it as `settings.json.broken-<timestamp>` before writing a good one. Writes are
 * atomic and one at a time.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteFile } from '../atomic-write-file.ts';
import { parseJsonText } from '../library/json-text.ts';
import { KeyedMutex } from '../library/keyed-mutex.ts';
import { nestboxHome, xdgBaseDirectory } from '../library/library-paths.ts';
import { formatIssues, type ValidationIssue } from '../library/validation.ts';
import {
  applySettingsPatch,
  cloneSettings,
  defaultSettings,
  readSettings,
  type Settings,
} from './settings.ts';
import { pathExists } from '../path-exists.ts';

export const SETTINGS_FILE = 'settings.json';

export function settingsFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const home = nestboxHome(env);
  if (home) return path.join(home, SETTINGS_FILE);
  return path.join(xdgBaseDirectory('XDG_CONFIG_HOME', env), 'nestbox', SETTINGS_FILE);
}

export interface SettingsProblem {
  /** For the user: what was wrong and what Nestbox did about it. */
  message: string;
  /** Each bad field with its path; for a file that is not JSON, one issue with line/column. */
  issues: ValidationIssue[];
  /** Where the file as it was is kept (absent when it could not be moved). */
  keptAs?: string;
}

export interface SettingsLoad {
  settings: Settings;
  problem?: SettingsProblem;
}

export type SettingsErrorCode = 'invalid-request' | 'unwritable';

export class SettingsError extends Error {
  override readonly name = 'SettingsError';

  constructor(
    readonly code: SettingsErrorCode,
    message: string,
    readonly issues: readonly ValidationIssue[] = [],
  ) {
    super(message);
  }
}

export interface SettingsStoreOptions {
  filePath: string;
  now?: () => Date;
  /** Tests inject failures here; default atomicWriteFile. */
  writeFileAtomic?: (file: string, data: string) => Promise<void>;
}

export function serializeSettings(settings: Settings): string {
  const ordered: Settings = {
    schemaVersion: settings.schemaVersion,
    vmFolder: settings.vmFolder,
    theme: settings.theme,
    hotkeys: { releaseKeyboard: settings.hotkeys.releaseKeyboard },
    confirmations: {
      deleteVm: settings.confirmations.deleteVm,
      revertSnapshot: settings.confirmations.revertSnapshot,
    },
    onQuitWithRunningVms: settings.onQuitWithRunningVms,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

const lockKey = 'settings';

export class SettingsStore {
  readonly filePath: string;
  readonly #now: () => Date;
  readonly #write: (file: string, data: string) => Promise<void>;
  readonly #lock = new KeyedMutex();
  #settings: Settings = cloneSettings(defaultSettings);
  #loaded = false;
  /** Set when the file on disk must not be replaced (it could not be read or set aside). */
  #blocked: string | undefined;

  constructor(options: SettingsStoreOptions) {
    this.filePath = path.resolve(options.filePath);
    this.#now = options.now ?? (() => new Date());
    this.#write = options.writeFileAtomic ?? ((file, data) => atomicWriteFile(file, data));
  }

  /** The settings in effect (the defaults before `load`). A copy: change them with `update`. */
  current(): Settings {
    return cloneSettings(this.#settings);
  }

  /** Reads the file; never throws for a missing or broken one (see `problem`). */
  async load(): Promise<SettingsLoad> {
    return this.#lock.run(lockKey, () => this.#load());
  }

  /** Validates and applies a change, writes it, and returns the new settings. */
  async update(patch: unknown): Promise<Settings> {
    return this.#lock.run(lockKey, async () => {
      if (!this.#loaded) await this.#load();
      if (this.#blocked) throw new SettingsError('unwritable', this.#blocked);
      const result = applySettingsPatch(this.#settings, patch);
      if (!result.ok) {
        throw new SettingsError(
          'invalid-request',
          `The settings change is not valid:\n${formatIssues(result.issues)}`,
          result.issues,
        );
      }
      await mkdir(path.dirname(this.filePath), { recursive: true });
      await this.#write(this.filePath, serializeSettings(result.value));
      this.#settings = result.value;
      return this.current();
    });
  }

  async #load(): Promise<SettingsLoad> {
    this.#loaded = true;
    this.#blocked = undefined;
    this.#settings = cloneSettings(defaultSettings);
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: this.current() };
      const reason = error instanceof Error ? error.message : String(error);
      this.#blocked =
        `${this.filePath} cannot be read (${reason}); Nestbox uses the default settings and ` +
        'leaves the file alone until it can be read.';
      return { settings: this.current(), problem: { message: this.#blocked, issues: [] } };
    }

    let issues: ValidationIssue[];
    const parsed = parseJsonText(text);
    if (parsed.ok) {
      const read = readSettings(parsed.value);
      this.#settings = read.settings;
      issues = read.issues;
    } else {
      issues = [
        {
          path: '',
          message: `not valid JSON: line ${parsed.line}, column ${parsed.column}: ${parsed.message}`,
        },
      ];
    }
    if (issues.length === 0) return { settings: this.current() };

    const kept = await this.#setAside();
    const what = parsed.ok
      ? `${this.filePath} has settings Nestbox cannot use; those are back to their defaults:\n${formatIssues(issues)}`
      : `${this.filePath} is ${issues[0]?.message}; Nestbox uses the default settings.`;
    if (!kept.ok) {
      this.#blocked = `${what}\nThe file could not be set aside (${kept.reason}), so it is left as it is.`;
      return { settings: this.current(), problem: { message: this.#blocked, issues } };
    }
    let message = `${what}\nThe file as it was is kept as ${kept.path}.`;
    try {
      await this.#write(this.filePath, serializeSettings(this.#settings));
    } catch (error) {
      // The broken file is safe beside it; the next change writes settings.json again.
      const reason = error instanceof Error ? error.message : String(error);
      message += `\nThe repaired settings could not be saved: ${reason}`;
    }
    return { settings: this.current(), problem: { message, issues, keptAs: kept.path } };
  }

  /** Renames the file to settings.json.broken-<timestamp>, preserving its bytes. */
  async #setAside(): Promise<{ ok: true; path: string } | { ok: false; reason: string }> {
    const stamp = this.#now().toISOString().replace(/[:.]/g, '-');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const suffix = attempt === 0 ? '' : `-${randomBytes(3).toString('hex')}`;
      const target = `${this.filePath}.broken-${stamp}${suffix}`;
      if (await pathExists(target)) continue;
      try {
        await rename(this.filePath, target);
        return { ok: true, path: target };
      } catch (error) {
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    }
    return { ok: false, reason: 'no free name for the copy' };
  }
}
