import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDoctest, parseNodeTest, parseVitest } from './test-summaries.mjs';

test('reads doctest totals', () => {
  const output =
    '[doctest] doctest version is "2.4.9"\n' +
    '[doctest] test cases:  41 |  40 passed | 1 failed | 0 skipped\n' +
    '[doctest] assertions: 310 | 309 passed | 1 failed |\n';
  assert.deepEqual(parseDoctest(output), { passed: 40, failed: 1 });
});

test("reads node's TAP totals", () => {
  const output = 'ok 1 - a\n1..1\n# tests 3\n# suites 0\n# pass 2\n# fail 1\n# cancelled 0\n';
  assert.deepEqual(parseNodeTest(output), { passed: 2, failed: 1 });
});

test('reads Vitest totals, with and without failures and colours', () => {
  assert.deepEqual(parseVitest(' Test Files  2 passed (2)\n      Tests  9 passed (9)\n'), {
    passed: 9,
    failed: 0,
  });
  assert.deepEqual(
    parseVitest(
      '\u001b[2m      Tests \u001b[22m \u001b[1m\u001b[31m2 failed\u001b[39m | 7 passed (9)\n',
    ),
    { passed: 7, failed: 2 },
  );
});

test('a run without a summary line has no counts', () => {
  assert.equal(parseDoctest('Segmentation fault'), null);
  assert.equal(parseNodeTest('Error: Cannot find module'), null);
  assert.equal(parseVitest('No test files found'), null);
});
