/**
 * Why a request failed, so the UI can tell "the service said no" from "we never got an
 * answer". `message` is always a sentence a user can act on.
 */
export type ClientErrorKind =
  /** `nestbox serve` rejected the page's access token (HTTP 401). */
  | 'unauthorized'
  /** No answer at all: the service is not running or the connection dropped. */
  | 'unreachable'
  /** An answer that is not what the contract promises. */
  | 'bad-response'
  /** The service ran the request and reported an error (a WireError). */
  | 'remote';

export class NestboxClientError extends Error {
  override readonly name = 'NestboxClientError';
  readonly kind: ClientErrorKind;
  /** The service's own error code, when it sent one. */
  readonly code: string | undefined;

  constructor(
    kind: ClientErrorKind,
    message: string,
    options?: { code?: string; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options?.code;
  }
}

/** A WireError body (`{ error: { message, code? } }`), or null for anything else. */
export function parseWireError(body: unknown): { message: string; code?: string } | null {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null;
  const error: unknown = body.error;
  if (typeof error !== 'object' || error === null || !('message' in error)) return null;
  if (typeof error.message !== 'string' || error.message.trim() === '') return null;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  return code === undefined ? { message: error.message } : { message: error.message, code };
}
