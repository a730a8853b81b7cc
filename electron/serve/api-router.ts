/**
 * `/api/<channel>`: the HTTP transport for the request/response contract. Every request is
 * authenticated first, so nothing about the API (not even which channels exist) answers
 * without the token. WebSocket upgrades for events will authenticate with the same check.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRequestChannel } from '../common/contract.ts';
import { dispatchRequest, type RequestHandlers } from '../services/request-handlers.ts';
import { RequestError, toWireError } from '../services/request-error.ts';
import { securityHeaders } from '../services/web/content-security-policy.ts';
import { isAuthorized } from './access-token.ts';
import { readJsonBody } from './request-body.ts';

export const apiPrefix = '/api/';

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    ...securityHeaders,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
    ...extraHeaders,
  });
  response.end(payload);
}

export interface ApiRouterOptions {
  token: string;
  handlers: RequestHandlers;
  /** Where unexpected (5xx) failures are reported; the client gets the WireError. */
  logError: (message: string, error: unknown) => void;
}

/** Handles a request whose path starts with `/api/`. */
export async function handleApiRequest(
  request: IncomingMessage,
  response: ServerResponse,
  urlPath: string,
  options: ApiRouterOptions,
): Promise<void> {
  if (!isAuthorized(request.headers.authorization, options.token)) {
    request.resume();
    sendJson(
      response,
      401,
      toWireError(
        new RequestError(
          'unauthorized',
          'Missing or wrong access token. Open the address nestbox serve printed, including ?token=.',
        ),
      ).body,
      { 'WWW-Authenticate': 'Bearer realm="nestbox"' },
    );
    return;
  }

  let channel: string;
  try {
    channel = decodeURIComponent(urlPath.slice(apiPrefix.length));
  } catch {
    channel = '';
  }
  try {
    if (!isRequestChannel(channel)) {
      throw new RequestError('not-found', `There is no API channel named "${channel}".`);
    }
    if (request.method !== 'POST') {
      request.resume();
      sendJson(
        response,
        405,
        toWireError(new RequestError('method-not-allowed', `Use POST for /api/${channel}.`)).body,
        { Allow: 'POST' },
      );
      return;
    }
    const payload = await readJsonBody(request);
    sendJson(response, 200, await dispatchRequest(options.handlers, channel, payload));
  } catch (error) {
    request.resume();
    const wire = toWireError(error);
    if (wire.status >= 500) options.logError(`/api/${channel} failed`, error);
    if (!response.headersSent && !response.destroyed) sendJson(response, wire.status, wire.body);
  }
}
