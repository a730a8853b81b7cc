/** Where the `nestbox serve` token lives for the rest of this tab's life. */
export const ACCESS_TOKEN_STORAGE_KEY = 'nestbox.serve.accessToken';

/** The parts of `window` the token handling touches; tests may pass their own. */
export interface TokenHost {
  location: Pick<Location, 'href'>;
  history: Pick<History, 'state' | 'replaceState'>;
  sessionStorage: Pick<Storage, 'getItem' | 'setItem'>;
}

/**
 * `nestbox serve` prints a URL with `?token=…`. On first load take the token from the URL,
 * keep it in sessionStorage (so a reload still works) and remove it from the address bar,
 * so it does not end up in history, bookmarks or screenshots. Later loads read it back.
 */
export function takeAccessToken(host: TokenHost = window): string | null {
  const url = new URL(host.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl !== null) {
    url.searchParams.delete('token');
    host.history.replaceState(host.history.state, '', url.pathname + url.search + url.hash);
    if (fromUrl !== '') {
      try {
        host.sessionStorage.setItem(ACCESS_TOKEN_STORAGE_KEY, fromUrl);
      } catch {
        // Storage disabled: the token still works until the page is reloaded.
      }
      return fromUrl;
    }
  }
  try {
    return host.sessionStorage.getItem(ACCESS_TOKEN_STORAGE_KEY);
  } catch {
    return null;
  }
}
