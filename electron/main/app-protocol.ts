/**
 * Serves the built renderer on app://nestbox/ with the same resolver, MIME types and CSP
 * as `nestbox serve`.
 */
import { protocol } from 'electron';
import { securityHeaders } from '../services/web/content-security-policy.ts';
import { loadRendererFile } from '../services/web/renderer-files.ts';
import { appHost, appScheme, appSchemePrivileges } from './app-origin.ts';

/** Must run before the app's 'ready' event: Chromium fixes scheme privileges at start-up. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([appSchemePrivileges]);
}

function refusal(status: number, text: string): Response {
  return new Response(text, {
    status,
    headers: { ...securityHeaders, 'Content-Type': 'text/plain; charset=utf-8' },
  });
}

export function handleAppProtocol(rendererDir: string): void {
  protocol.handle(appScheme, async (request) => {
    const url = new URL(request.url);
    if (url.host !== appHost) return refusal(404, 'Not found');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return refusal(405, 'Method not allowed');
    }
    try {
      const file = await loadRendererFile(rendererDir, url.pathname);
      return new Response(request.method === 'HEAD' ? null : new Uint8Array(file.body), {
        status: file.status,
        headers: file.headers,
      });
    } catch (error) {
      console.error(`nestbox: cannot serve ${request.url}:`, error);
      return refusal(500, 'Internal error');
    }
  });
}
