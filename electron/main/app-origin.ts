/**
 * The app's own origin. The renderer is loaded from app://nestbox/ rather than file:// so it
 * gets a real, narrow origin: CSP 'self' means exactly our files, and IPC senders can be
 * checked by origin. Pure (no 'electron' import) so the rules are unit-tested under Node.
 */
import type { CustomScheme } from 'electron';

export const appScheme = 'app';
export const appHost = 'nestbox';
export const appOrigin = `${appScheme}://${appHost}`;
export const appEntryUrl = `${appOrigin}/index.html`;

/**
 * standard: parsed like http (origin, relative URLs); secure: counts as a secure context;
 * supportFetchAPI + corsEnabled: Vite's `<script type="module" crossorigin>` loads over it.
 * No bypassCSP: our own CSP must apply to our own scheme.
 */
export const appSchemePrivileges: CustomScheme = {
  scheme: appScheme,
  privileges: {
    standard: true,
    secure: true,
    supportFetchAPI: true,
    corsEnabled: true,
    codeCache: true,
  },
};

/** True for URLs of our renderer, e.g. app://nestbox/index.html. */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${appScheme}:` && parsed.host === appHost;
  } catch {
    return false;
  }
}
