/**
 * The `nestbox serve` access token: made fresh at every start, required as
 * `Authorization: Bearer <token>` on every /api request (or as `?token=` on a WebSocket, where
 * browsers cannot set headers). Anything on this machine can reach a loopback port, so the
 * token, not the address, is what keeps other users' and web pages' requests out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function createAccessToken(): string {
  // 256 bits; base64url so the token can sit in a URL query without escaping.
  return randomBytes(32).toString('base64url');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Constant-time check of an `Authorization` header. Comparing fixed-length digests keeps
 * timingSafeEqual usable for inputs of any length without revealing the token's length.
 */
export function isAuthorized(authorizationHeader: string | undefined, token: string): boolean {
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  const match = /^Bearer +([A-Za-z0-9_-]+)$/i.exec(authorizationHeader ?? '');
  return isTokenValid(match?.[1], token);
}

/**
 * Constant-time check of a token presented on its own: a WebSocket's `?token=`, since
 * browsers cannot set headers on a WebSocket.
 */
export function isTokenValid(presented: string | null | undefined, token: string): boolean {
  if (presented === undefined || presented === null || presented === '') return false;
  return timingSafeEqual(digest(presented), digest(token));
}
