import { takeAccessToken } from './access-token.ts';
import { createHttpTransport } from './http-transport.ts';
import { createNestboxClient, type NestboxClient } from './nestbox-client.ts';
import { createPreloadTransport } from './preload-transport.ts';

/**
 * The client for wherever this page runs: Electron's preload when it exposed
 * `window.nestbox`, otherwise `nestbox serve` over HTTP on the page's own origin.
 * Call once at startup: the HTTP path takes the access token out of the URL.
 */
export function createClient(win: Window = window): NestboxClient {
  if (win.nestbox) return createNestboxClient(createPreloadTransport(win.nestbox));
  return createNestboxClient(createHttpTransport({ token: takeAccessToken(win) }));
}
