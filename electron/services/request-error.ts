/**
 * A request failure with a stable code, shared by every transport: `nestbox serve` maps it to
 * an HTTP status and a `WireError` body, Electron IPC rejects the renderer's promise with it.
 */
import type { WireError } from '../common/contract.ts';

export type RequestErrorCode =
  | 'bad-request'
  | 'unauthorized'
  | 'not-found'
  | 'method-not-allowed'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'native-core-unavailable'
  | 'internal';

const statusByCode: Record<RequestErrorCode, number> = {
  'bad-request': 400,
  unauthorized: 401,
  'not-found': 404,
  'method-not-allowed': 405,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'native-core-unavailable': 503,
  internal: 500,
};

export class RequestError extends Error {
  override readonly name = 'RequestError';

  constructor(
    readonly code: RequestErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get status(): number {
    return statusByCode[this.code];
  }
}

/**
 * The wire form of any thrown value. Unexpected errors keep their message (this is a local,
 * single-user tool and the message is what a bug report needs) but never their stack.
 */
export function toWireError(error: unknown): { status: number; body: WireError } {
  if (error instanceof RequestError) {
    return { status: error.status, body: { error: { message: error.message, code: error.code } } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: { message, code: 'internal' } } };
}
