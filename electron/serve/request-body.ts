/** Reads a JSON request body with a size cap, so a client cannot make the server buffer GiBs. */
import type { IncomingMessage } from 'node:http';
import { RequestError } from '../services/request-error.ts';

export const maxRequestBodyBytes = 1024 * 1024;

/** `undefined` for an empty body: requests without parameters need not send one. */
export async function readJsonBody(
  request: IncomingMessage,
  limit = maxRequestBodyBytes,
): Promise<unknown> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) {
    request.resume();
    throw new RequestError('payload-too-large', `Request bodies are limited to ${limit} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      throw new RequestError('payload-too-large', `Request bodies are limited to ${limit} bytes.`);
    }
    chunks.push(buffer);
  }
  if (size === 0) return undefined;

  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  // Requiring JSON also forces a CORS preflight on any cross-site attempt.
  if (contentType !== 'application/json') {
    throw new RequestError('unsupported-media-type', 'Send the request body as application/json.');
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new RequestError('bad-request', 'The request body is not valid JSON.');
  }
}
