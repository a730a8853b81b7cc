import type { RequestChannel, RequestOf, ResponseOf } from './contract.ts';
import { NestboxClientError, parseWireError } from './client-error.ts';
import type { Transport } from './nestbox-client.ts';

export const UNAUTHORIZED_MESSAGE =
  "This page's access token is missing or wrong — open the URL that `nestbox serve` printed.";

export interface HttpTransportOptions {
  /** The `nestbox serve` access token; null sends no Authorization header (and gets a 401). */
  token: string | null;
  /** Defaults to `/api/`: the page and the API share one origin. */
  apiBase?: string;
  fetch?: typeof globalThis.fetch;
}

/** Under `nestbox serve`: each channel is `POST /api/<channel>` with a JSON body. */
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
        if (wire) throw new NestboxClientError('remote', wire.message, { code: wire.code });
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
