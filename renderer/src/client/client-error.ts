import type { ValidationIssueData, WireError } from './contract.ts';

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
  /** A request that failed validation: each bad field with its path (for forms). */
  readonly issues: readonly ValidationIssueData[];

  constructor(
    kind: ClientErrorKind,
    message: string,
    options?: { code?: string; issues?: readonly ValidationIssueData[]; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options?.code;
    this.issues = options?.issues ?? [];
  }
}

/** A WireError body (`{ error: { message, code?, issues? } }`), or null for anything else. */
export function parseWireError(body: unknown): WireError['error'] | null {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null;
  const error: unknown = body.error;
  if (typeof error !== 'object' || error === null || !('message' in error)) return null;
  if (typeof error.message !== 'string' || error.message.trim() === '') return null;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const issues = 'issues' in error && Array.isArray(error.issues) ? readIssues(error.issues) : [];
  return {
    message: error.message,
    ...(code !== undefined ? { code } : {}),
    ...(issues.length > 0 ? { issues } : {}),
  };
}

function readIssues(list: unknown[]): ValidationIssueData[] {
  return list.flatMap((item) => {
    if (typeof item !== 'object' || item === null) return [];
    const { path, message } = item as Partial<ValidationIssueData>;
    return typeof path === 'string' && typeof message === 'string' ? [{ path, message }] : [];
  });
}
