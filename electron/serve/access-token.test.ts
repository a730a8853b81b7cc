import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAccessToken, isAuthorized } from './access-token.ts';

test('tokens are 32 random bytes in base64url, different every time', () => {
  const tokens = new Set(Array.from({ length: 50 }, () => createAccessToken()));
  assert.equal(tokens.size, 50);
  for (const token of tokens) {
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);
  }
});

test('accepts exactly "Bearer <token>", the scheme in any case', () => {
  const token = createAccessToken();
  assert.equal(isAuthorized(`Bearer ${token}`, token), true);
  assert.equal(isAuthorized(`bearer ${token}`, token), true);
  assert.equal(isAuthorized(`Basic ${token}`, token), false);
  assert.equal(isAuthorized(token, token), false);
  assert.equal(isAuthorized(`Bearer ${token.slice(1)}`, token), false);
  assert.equal(isAuthorized(`Bearer ${token} extra`, token), false);
  assert.equal(isAuthorized(undefined, token), false);
  assert.equal(isAuthorized('Bearer ', token), false);
});
