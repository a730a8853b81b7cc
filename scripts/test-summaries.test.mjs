import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDoctest, parseNodeTest, parseVitest } from './test-summaries.mjs';

test('reads doctest totals', () => {
  const output =
    '[doctest] doctest version is "2.4.9"\n' +
    '[doctest] test cases:  41 |  40 passed | 1 failed | 0 skipped\n' +
    '[doctest] assertions: 310 | 309 passed | 1 failed |\n';
  assert.deepEqual(parseDoctest(output), { passed: 40, failed: 1, skipped: 0 });
});

test("reads node's TAP totals", () => {
  const output = 'ok 1 - a\n1..1\n# tests 3\n# suites 0\n# pass 2\n# fail 1\n# cancelled 0\n';
  assert.deepEqual(parseNodeTest(output), { passed: 2, failed: 1, skipped: 0 });
});

test('reads Vitest totals, with and without failures and colours', () => {
  assert.deepEqual(parseVitest(' Test Files  2 passed (2)\n      Tests  9 passed (9)\n'), {
    passed: 9,
    failed: 0,
    skipped: 0,
  });
  assert.deepEqual(
    parseVitest(
      '\u001b[2m      Tests \u001b[22m \u001b[1m\u001b[31m2 failed\u001b[39m | 7 passed (9)\n',
    ),
    { passed: 7, failed: 2, skipped: 0 },
  );
});

test('skipped tests are counted apart from passed ones', () => {
  assert.deepEqual(
    parseDoctest('[doctest] test cases: 364 | 362 passed | 0 failed | 2 skipped\n'),
    { passed: 362, failed: 0, skipped: 2 },
  );
  assert.deepEqual(
    parseNodeTest(
      'ok 1 - a suite # SKIP needs /dev/kvm\n# Subtest: b\n    ok 1 - c # SKIP needs /dev/kvm\n' +
        'ok 2 - b\n# tests 2\n# pass 3\n# fail 0\n# cancelled 0\n# skipped 1\n# todo 0\n',
    ),
    { passed: 3, failed: 0, skipped: 2 },
  );
  assert.deepEqual(parseVitest('      Tests  4 passed | 1 skipped (5)\n'), {
    passed: 4,
    failed: 0,
    skipped: 1,
  });
});

test('a run without a summary line has no counts', () => {
  assert.equal(parseDoctest('Segmentation fault'), null);
  assert.equal(parseNodeTest('Error: Cannot find module'), null);
  assert.equal(parseVitest('No test files found'), null);
});
