/**
 * The contract's subscriptions over WebSockets (docs/ipc.md), one socket per subscription:
 *
 *   /api/events                    vms.changed: JSON text messages
 *   /api/vms/<id>/console[?history=1]  vm.serial: binary both ways (guest output, input)
 *   /api/vms/<id>/display          vm.display: binary both ways (MODE/FRAME, ACK)
 *   /api/jobs                      jobs.changed: JSON text messages
 *
 * A socket per subscription maps each onto its own VM host connection, and keeps a display's
 * multi-megabyte frames from holding up anything else. Before the upgrade: the `Host` header
 * must be loopback (as for HTTP), the token must be right (`?token=` or a Bearer header, in
 * constant time), and a browser's `Origin` must be this server's own. After it, every message
 * from the server is either binary (the stream) or JSON text:
 *
 *   {"type":"event","data":…}   a vms.changed event
 *   {"type":"end","end":{reason, lastExit?, error?}}   the subscription ended; the server closes
 *
 * A subscription that cannot start (no such VM, not running, no display) is an "end" with the
 * error right after the upgrade, so a page sees why (browsers hide a refused upgrade's body).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { SubscriptionChannel, SubscriptionEnd } from '../common/contract.ts';
import { RequestError, toWireError } from '../services/request-error.ts';
import type {
  OpenSubscription,
  SubscriptionHandlers,
  SubscriptionSink,
} from '../services/request-handlers-events.ts';
import { isAuthorized, isTokenValid } from './access-token.ts';

/** Close codes: 1000 after an "end" message; 1008 for a client too slow to read. */
const CLOSE_NORMAL = 1000;
const CLOSE_POLICY = 1008;
const CLOSE_UNSUPPORTED = 1003;
/** A client that leaves this much unread (events or serial output) is dropped. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Client messages are serial input or ACKs. */
const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

interface Route {
  channel: SubscriptionChannel;
  params: unknown;
}

/** The subscription a WebSocket path asks for, or null. `query` gives further params. */
export function routeOf(pathname: string, query: URLSearchParams): Route | null {
  if (pathname === '/api/events') return { channel: 'vms.changed', params: undefined };
  if (pathname === '/api/jobs') return { channel: 'jobs.changed', params: undefined };
  const match = /^\/api\/vms\/([^/]+)\/(console|display|progress)$/.exec(pathname);
  if (!match) return null;
  let id: string;
  try {
    id = decodeURIComponent(match[1] ?? '');
  } catch {
    return null;
  }
  if (match[2] === 'display') return { channel: 'vm.display', params: { id } };
  if (match[2] === 'progress') return { channel: 'vm.progress', params: { id } };
  const history = query.get('history');
  return {
    channel: 'vm.serial',
    params: history === null ? { id } : { id, history: history === '1' || history === 'true' },
  };
}

export interface EventSocketOptions {
  token: string;
  subscriptions: SubscriptionHandlers | undefined;
  logError: (message: string, error: unknown) => void;
}

function refuseUpgrade(
  socket: Duplex,
  status: number,
  error: RequestError,
  extraHeaders: Record<string, string> = {},
): void {
  const body = JSON.stringify(toWireError(error).body);
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    Connection: 'close',
    ...extraHeaders,
  };
  socket.end(
    `HTTP/1.1 ${status} ${reason[status as keyof typeof reason] ?? 'Error'}\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      `\r\n${body}`,
  );
}

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

export class EventSockets {
  readonly #server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  readonly #open = new Set<{ close(): void }>();

  constructor(private readonly options: EventSocketOptions) {}

  /**
   * Handles an upgrade request. `host` is the request's checked loopback Host header: a
   * browser's Origin must name the same (an SSH tunnel may change the port, so the page's own
   * address is what counts).
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const authorized =
      isAuthorized(request.headers.authorization, this.options.token) ||
      isTokenValid(url.searchParams.get('token'), this.options.token);
    if (!authorized) {
      refuseUpgrade(
        socket,
        401,
        new RequestError(
          'unauthorized',
          'Missing or wrong access token. Open the address nestbox serve printed, including ?token=.',
        ),
        { 'WWW-Authenticate': 'Bearer realm="nestbox"' },
      );
      return;
    }
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host ?? ''}`) {
      refuseUpgrade(
        socket,
        403,
        new RequestError(
          'forbidden',
          `WebSockets are open to pages of this server only, not ${origin}.`,
        ),
      );
      return;
    }
    const route = routeOf(url.pathname, url.searchParams);
    const handler = route && this.options.subscriptions?.[route.channel];
    if (!route || !handler) {
      refuseUpgrade(
        socket,
        404,
        new RequestError('not-found', `There is no WebSocket at ${url.pathname}.`),
      );
      return;
    }
    let params: unknown;
    try {
      params = handler.parseParams(route.params);
    } catch (error) {
      refuseUpgrade(
        socket,
        400,
        error instanceof RequestError ? error : new RequestError('bad-request', String(error)),
      );
      return;
    }
    this.#server.handleUpgrade(request, socket, head, (ws) => {
      void this.#serve(ws, route.channel, params);
    });
  }

  async #serve(ws: WebSocket, channel: SubscriptionChannel, params: unknown): Promise<void> {
    let ended = false;
    let subscription: OpenSubscription | undefined;
    const entry = { close: () => ws.terminate() };
    this.#open.add(entry);

    const finish = (how: SubscriptionEnd) => {
      if (ended) return;
      ended = true;
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ type: 'end', end: how }));
        ws.close(CLOSE_NORMAL);
      }
    };
    const tooSlow = () => {
      if (ws.bufferedAmount <= MAX_BUFFERED_BYTES) return false;
      ended = true;
      ws.close(CLOSE_POLICY, 'too slow: messages were not read');
      return true;
    };
    const sink: SubscriptionSink<SubscriptionChannel> = {
      event: (data) => {
        if (ended || ws.readyState !== ws.OPEN || tooSlow()) return;
        if (data instanceof Uint8Array) ws.send(data, { binary: true });
        else ws.send(JSON.stringify({ type: 'event', data }));
      },
      end: finish,
    };
    ws.on('close', () => {
      ended = true;
      this.#open.delete(entry);
      subscription?.close();
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        ws.close(CLOSE_UNSUPPORTED, 'send binary messages only');
        return;
      }
      subscription?.send(bytesOf(data));
    });

    try {
      const handler = this.options.subscriptions?.[channel];
      if (!handler) throw new RequestError('not-found', `There is no subscription "${channel}".`);
      subscription = await (
        handler.open as (p: unknown, s: typeof sink) => Promise<OpenSubscription>
      )(params, sink);
    } catch (error) {
      const wire = toWireError(error);
      if (wire.status >= 500) this.options.logError(`WebSocket ${channel} failed`, error);
      finish({ reason: 'error', error: wire.body.error });
      return;
    }
    // The socket went away while the subscription was starting.
    if (ws.readyState !== ws.OPEN) subscription.close();
  }

  /** Drops every socket (and so every subscription). */
  close(): void {
    for (const entry of [...this.#open]) entry.close();
    this.#open.clear();
    this.#server.close();
  }
}
