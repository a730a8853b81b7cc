import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineAndColumn, parseJsonText } from './json-text.ts';

function failure(text: string) {
  const result = parseJsonText(text);
  assert.equal(result.ok, false, `expected ${JSON.stringify(text)} to be refused`);
  if (result.ok) throw new Error('unreachable');
  return result;
}

test('parses valid JSON, with or without a byte-order mark', () => {
  assert.deepEqual(parseJsonText('{"a": [1, 2.5e3, "x", true, null]}'), {
    ok: true,
    value: { a: [1, 2500, 'x', true, null] },
  });
  assert.deepEqual(parseJsonText('\uFEFF{"a": 1}'), { ok: true, value: { a: 1 } });
});

test('a trailing comma is reported at its line and column', () => {
  const text = '{\n  "name": "Alpine",\n  "cpus": 2,\n}\n';
  const result = failure(text);
  assert.equal(result.line, 4);
  assert.equal(result.column, 1);
  assert.match(result.message, /trailing comma/);
});

test('a missing comma points at the next field', () => {
  const result = failure('{\n  "a": 1\n  "b": 2\n}');
  assert.deepEqual([result.line, result.column], [3, 3]);
  assert.match(result.message, /expected "," or "}"/);
});

test('the usual hand-editing mistakes each get a position and a reason', () => {
  const cases: [string, number, number, RegExp][] = [
    ['', 1, 1, /empty/],
    ['{"a": 1', 1, 8, /expected "," or "}", found end of file/],
    ["{'a': 1}", 1, 2, /field name in double quotes/],
    ['{"a": \'x\'}', 1, 7, /double quotes/],
    ['{"a": tru}', 1, 7, /expected a value/],
    ['{"a": "line\nbreak"}', 1, 12, /control character/],
    ['{"a": "\\q"}', 1, 8, /escape/],
    ['{"a": 1} x', 1, 10, /after the end/],
    ['[1, 2,]', 1, 7, /trailing comma/],
    ['{"a": -}', 1, 7, /malformed number/],
    ['{"a": "open', 1, 7, /never closed/],
  ];
  for (const [text, line, column, message] of cases) {
    const result = failure(text);
    assert.deepEqual([result.line, result.column], [line, column], JSON.stringify(text));
    assert.match(result.message, message, JSON.stringify(text));
  }
});

test('deep nesting is an error, not a stack overflow', () => {
  const result = failure('['.repeat(100_000));
  assert.match(result.message, /nested more than/);
});

test('lineAndColumn counts from 1', () => {
  assert.deepEqual(lineAndColumn('ab\ncd', 0), { line: 1, column: 1 });
  assert.deepEqual(lineAndColumn('ab\ncd', 4), { line: 2, column: 2 });
});
