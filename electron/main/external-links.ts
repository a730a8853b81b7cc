/**
 * Which link targets may leave the app for the user's browser. Only http(s): other schemes
 * (file:, smb:, custom handlers) can launch local programs through `shell.openExternal`.
 */
export function externalUrlToOpen(url: string): string | null {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
    // Credentials in a link are a phishing tell; never pass them on.
    if (parsed.username !== '' || parsed.password !== '') return null;
    return parsed.href;
  } catch {
    return null;
  }
}
