/**
 * The app's preferences as the UI sees them (`settings.get`, `settings.update`). Mirrors
 * electron/services/settings/settings.ts; docs/vm-library.md ("settings.json") has the rules.
 */
import type { ValidationIssueData } from './validation-issue.ts';

export type Theme = 'system' | 'light' | 'dark';
export type QuitAction = 'keep-running' | 'suspend' | 'power-off';

export interface AppSettings {
  schemaVersion: 1;
  /** The VM library's folder; null: the default location. */
  vmFolder: string | null;
  theme: Theme;
  hotkeys: { releaseKeyboard: string };
  confirmations: { deleteVm: boolean; revertSnapshot: boolean };
  onQuitWithRunningVms: QuitAction;
}

/** Names only what changes; `hotkeys` and `confirmations` field by field. */
export interface AppSettingsPatch {
  vmFolder?: string | null;
  theme?: Theme;
  hotkeys?: { releaseKeyboard?: string };
  confirmations?: { deleteVm?: boolean; revertSnapshot?: boolean };
  onQuitWithRunningVms?: QuitAction;
}

/** `settings.get`: the settings in effect and, once, what was wrong with the file. */
export interface AppSettingsState {
  settings: AppSettings;
  problem?: { message: string; issues: ValidationIssueData[]; keptAs?: string };
}
