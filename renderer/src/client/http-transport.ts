import type {
  RequestChannel,
  RequestOf,
  ResponseOf,
  SubscriptionChannel,
  SubscriptionEnd,
  SubscriptionParamsOf,
} from './contract.ts';
import { NestboxClientError, parseWireError } from './client-error.ts';
import type { SubscriptionHandlers, Transport, TransportSubscription } from './nestbox-client.ts';

export const UNAUTHORIZED_MESSAGE =
  "This page's access token is missing or wrong — open the URL that `nestbox serve` printed.";

export interface HttpTransportOptions {
  /** The `nestbox serve` access token; null sends no Authorization header (and gets a 401). */
  token: string | null;
  /** Defaults to `/api/`: the page and the API share one origin. */
  apiBase?: string;
  fetch?: typeof globalThis.fetch;
  /** The WebSocket class for subscriptions (tests pass a fake); default the browser's. */
  WebSocket?: WebSocketConstructor;
  /** The page's address, which WebSocket URLs are made from; default `window.location`. */
  location?: Pick<Location, 'href'>;
}

/** The part of the browser's WebSocket class used here. */
export type WebSocketConstructor = new (
  url: string,
) => Pick<
  WebSocket,
  'binaryType' | 'readyState' | 'send' | 'close' | 'onopen' | 'onmessage' | 'onclose'
>;

const CONNECTION_LOST: SubscriptionEnd = {
  reason: 'error',
  error: {
    code: 'unreachable',
    message:
      'The connection to Nestbox was lost — check that `nestbox serve` is still running, then reload.',
  },
};

/** The WebSocket path of each subscription (electron/serve/event-sockets.ts). */
function socketPath<S extends SubscriptionChannel>(
  channel: S,
  params: SubscriptionParamsOf<S>,
): string {
  switch (channel) {
    case 'vms.changed':
      return 'events';
    case 'vm.serial': {
      const { id, history } = params as SubscriptionParamsOf<'vm.serial'>;
      return `vms/${encodeURIComponent(id)}/console${history ? '?history=1' : ''}`;
    }
    case 'vm.display':
      return `vms/${encodeURIComponent((params as SubscriptionParamsOf<'vm.display'>).id)}/display`;
    case 'vm.progress':
      return `vms/${encodeURIComponent((params as SubscriptionParamsOf<'vm.progress'>).id)}/progress`;
    case 'jobs.changed':
      return 'jobs';
  }
  throw new Error(`no WebSocket for "${String(channel)}"`);
}

/**
 * One WebSocket per subscription: JSON text messages ({type: 'event', data} and a final
 * {type: 'end', end}), binary for the serial and display streams, binary back for serial
 * input and display ACKs. The token goes in the URL: browsers cannot set headers on a WebSocket.
 */
function subscribeOverWebSocket<S extends SubscriptionChannel>(
  options: HttpTransportOptions,
  channel: S,
  params: SubscriptionParamsOf<S>,
  handlers: SubscriptionHandlers<S>,
): TransportSubscription<S> {
  const SocketClass = options.WebSocket ?? globalThis.WebSocket;
  const url = new URL(
    (options.apiBase ?? '/api/') + socketPath(channel, params),
    (options.location ?? window.location).href,
  );
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (options.token) url.searchParams.set('token', options.token);
  const socket = new SocketClass(url.href);
  socket.binaryType = 'arraybuffer';

  let closed = false;
  let end: SubscriptionEnd | undefined;
  /** Sent before the socket opened (typing into a console that is still connecting). */
  const queued: (ArrayBuffer | Uint8Array)[] = [];
  socket.onopen = () => {
    for (const data of queued.splice(0)) socket.send(data);
  };
  socket.onmessage = (message: MessageEvent) => {
    if (closed) return;
    const data: unknown = message.data;
    if (typeof data === 'string') {
      let parsed: { type?: string; data?: unknown; end?: SubscriptionEnd };
      try {
        parsed = JSON.parse(data) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.type === 'event') handlers.event(parsed.data as never);
      else if (parsed.type === 'end' && parsed.end) end = parsed.end;
      return;
    }
    if (!(data instanceof ArrayBuffer)) return;
    handlers.event((channel === 'vm.serial' ? new Uint8Array(data) : data) as never);
  };
  socket.onclose = () => {
    if (closed) return;
    closed = true;
    handlers.end(end ?? CONNECTION_LOST);
  };

  return {
    async send(data) {
      if (closed) {
        throw new NestboxClientError('unreachable', 'This connection to the VM is closed.');
      }
      const bytes = data as ArrayBuffer | Uint8Array;
      if (socket.readyState === 0) queued.push(bytes);
      else socket.send(bytes);
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close(1000);
    },
  };
}

/**
 * Under `nestbox serve`: each request channel is `POST /api/<channel>` with a JSON body; each
 * subscription is a WebSocket under /api.
 */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const apiBase = options.apiBase ?? '/api/';
  // Looked up per call (not captured) so a test's stubbed global fetch is honoured.
  const fetchImpl = (input: string, init: RequestInit) =>
    (options.fetch ?? globalThis.fetch)(input, init);

  return {
    kind: 'http',
    async request<C extends RequestChannel>(
      channel: C,
      request: RequestOf<C>,
    ): Promise<ResponseOf<C>> {
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        Accept: 'application/json',
      };
      if (options.token) headers.Authorization = `Bearer ${options.token}`;

      let response: Response;
      try {
        response = await fetchImpl(apiBase + encodeURIComponent(channel), {
          method: 'POST',
          headers,
          // Requests without a payload (`void`) travel as JSON null.
          body: JSON.stringify(request ?? null),
          credentials: 'omit',
          cache: 'no-store',
        });
      } catch (cause) {
        throw new NestboxClientError(
          'unreachable',
          "Can't reach Nestbox — check that `nestbox serve` is still running, then try again.",
          { cause },
        );
      }

      if (response.status === 401) {
        throw new NestboxClientError('unauthorized', UNAUTHORIZED_MESSAGE);
      }

      const body = await readJson(response);
      if (!response.ok) {
        const wire = parseWireError(body);
        if (wire) {
          throw new NestboxClientError('remote', wire.message, {
            code: wire.code,
            issues: wire.issues,
          });
        }
        const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
        throw new NestboxClientError(
          'bad-response',
          `Nestbox could not answer "${channel}" (HTTP ${status}).`,
          { code: `http-${response.status}` },
        );
      }
      if (body === undefined) {
        throw new NestboxClientError(
          'bad-response',
          `Nestbox sent an unreadable answer to "${channel}".`,
        );
      }
      return body as ResponseOf<C>;
    },
    subscribe: (channel, params, handlers) =>
      subscribeOverWebSocket(options, channel, params, handlers),
  };
}

/** The body as JSON, or undefined when it is empty or not JSON. */
async function readJson(response: Response): Promise<unknown> {
  try {
    const text = await response.text();
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}
