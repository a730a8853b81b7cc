/**
 * The `nestbox serve` HTTP server: the built renderer plus the contract's API on loopback, so
 * the real UI runs in any Chromium (end-to-end tests, or a browser at the end of an SSH tunnel).
 * Requests are `POST /api/<channel>`; subscriptions are WebSockets under /api (event-sockets.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SubscriptionHandlers } from '../services/request-handlers-events.ts';
import { subscriptionsFor, type RequestHandlers } from '../services/request-handlers.ts';
import { loadRendererFile } from '../services/web/renderer-files.ts';
import { createAccessToken } from './access-token.ts';
import { apiPrefix, handleApiRequest } from './api-router.ts';
import { EventSockets } from './event-sockets.ts';
import { removeTokenFile, writeTokenFile } from './token-file.ts';

/** Always loopback: the server is for this machine's user, reached remotely only by tunnel. */
export const serveHost = '127.0.0.1';

export interface ServeOptions {
  handlers: RequestHandlers;
  /** The WebSocket subscriptions; default: those made with `handlers` (createAppServices). */
  subscriptions?: SubscriptionHandlers;
  /** The Vite build, normally dist/renderer. */
  rendererDir: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Where to publish the token for other local clients; null to skip (tests). */
  tokenFilePath: string | null;
  logError?: (message: string, error: unknown) => void;
}

export interface ServeServer {
  /** The address to open, token included. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/**
 * Browsers send the name they connected to; refusing other names defeats DNS rebinding, where
 * a web page re-points its own domain at 127.0.0.1. Any port: an SSH tunnel may remap it.
 */
function isLoopbackHostHeader(host: string | undefined): boolean {
  const name = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(host ?? '')?.[1]?.toLowerCase();
  return name === '127.0.0.1' || name === 'localhost' || name === '[::1]';
}

async function serveRendererFile(
  request: IncomingMessage,
  response: ServerResponse,
  rendererDir: string,
  urlPath: string,
): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    request.resume();
    response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('Method not allowed');
    return;
  }
  const file = await loadRendererFile(rendererDir, urlPath);
  response.writeHead(file.status, { ...file.headers, 'Content-Length': file.body.length });
  response.end(request.method === 'HEAD' ? undefined : file.body);
}

export async function startServeServer(options: ServeOptions): Promise<ServeServer> {
  const token = createAccessToken();
  const logError =
    options.logError ??
    ((message: string, error: unknown) => console.error(`nestbox serve: ${message}:`, error));

  const server = createServer((request, response) => {
    // The raw path, not a normalised URL: the renderer resolver must see any `..` to refuse it.
    const urlPath = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const handled = !isLoopbackHostHeader(request.headers.host)
      ? Promise.resolve().then(() => {
          request.resume();
          response.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8' });
          response.end('nestbox serve answers only to 127.0.0.1 and localhost');
        })
      : urlPath.startsWith(apiPrefix)
        ? handleApiRequest(request, response, urlPath, {
            token,
            handlers: options.handlers,
            logError,
          })
        : serveRendererFile(request, response, options.rendererDir, urlPath);
    handled.catch((error: unknown) => {
      logError(`${request.method ?? '?'} ${urlPath} failed`, error);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  const sockets = new EventSockets({
    token,
    subscriptions: options.subscriptions ?? subscriptionsFor(options.handlers),
    logError,
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isLoopbackHostHeader(request.headers.host)) {
      socket.on('error', () => undefined);
      socket.end(
        'HTTP/1.1 421 Misdirected Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    sockets.handleUpgrade(request, socket, head);
  });
  // Bounded waits for slow or stalled clients.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, serveHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const tokenFilePath = options.tokenFilePath;
  try {
    if (tokenFilePath !== null) await writeTokenFile(tokenFilePath, token);
  } catch (error) {
    server.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    url: `http://${serveHost}:${port}/?token=${token}`,
    port,
    token,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        sockets.close();
        // Keep-alive connections would otherwise hold close() open until they time out.
        server.closeAllConnections();
        await closed;
        if (tokenFilePath !== null) await removeTokenFile(tokenFilePath, token);
      })();
      return closing;
    },
  };
}
