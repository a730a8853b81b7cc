import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestError, toWireError } from './request-error.ts';

test('a RequestError keeps its code and maps to its HTTP status', () => {
  assert.deepEqual(toWireError(new RequestError('not-found', 'No such VM.')), {
    status: 404,
    body: { error: { message: 'No such VM.', code: 'not-found' } },
  });
});

test('an unexpected error is a 500 with its message and no stack', () => {
  const wire = toWireError(new TypeError('x is undefined'));
  assert.equal(wire.status, 500);
  assert.deepEqual(wire.body, { error: { message: 'x is undefined', code: 'internal' } });
  assert.equal(toWireError('plain string').body.error.message, 'plain string');
});
