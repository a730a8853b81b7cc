import { useSyncExternalStore } from 'react';

// Hash routing: it works the same under Electron's app:// protocol and `nestbox serve`,
// and never makes a request, so a reload cannot 404.

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

function currentPath(): string {
  return window.location.hash.replace(/^#/, '') || '/';
}

/** The path after `#` in the page URL, kept current as the user navigates. */
export function useHashPath(): string {
  return useSyncExternalStore(subscribe, currentPath, () => '/');
}
