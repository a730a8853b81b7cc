import { useCallback, useEffect, useState } from 'react';
import type { AppSettings } from '../client/contract.ts';
import type { PreferencesApi } from '../features/preferences/api/preferences-api.ts';

/**
 * The preferences the whole app follows (theme, the release shortcut, confirmations):
 * read once at start, replaced when the Preferences screen saves. null until read (or when
 * they cannot be read: the defaults apply).
 */
export function useAppSettings(api: PreferencesApi | undefined) {
  const [settings, setSettings] = useState<AppSettings | null>(null);
  const getSettings = api?.getSettings;

  useEffect(() => {
    if (!getSettings) return;
    let current = true;
    getSettings().then(
      (state) => current && setSettings(state.settings),
      () => {
        // The Preferences screen reports the problem; the app runs on the defaults.
      },
    );
    return () => {
      current = false;
    };
  }, [getSettings]);

  const theme = settings?.theme ?? 'system';
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'system') delete root.dataset.theme;
    else root.dataset.theme = theme;
  }, [theme]);

  const replace = useCallback((next: AppSettings) => setSettings(next), []);
  return { settings, replace };
}
