import type {
  AppSettings,
  AppSettingsPatch,
  AppSettingsState,
} from '../../../../../electron/common/app-settings.ts';

/** `settings.get` and `settings.update`. */
export interface PreferencesApi {
  getSettings(): Promise<AppSettingsState>;
  /** Strict: one bad field refuses the whole change (with field issues). */
  updateSettings(patch: AppSettingsPatch): Promise<AppSettings>;
}

export type { AppSettings, AppSettingsPatch, AppSettingsState };
