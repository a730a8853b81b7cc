/** settings.ts defaults the form resets to. */
export const DEFAULT_HOTKEY = 'Ctrl+Alt';
