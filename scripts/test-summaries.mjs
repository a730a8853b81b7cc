// Reads the pass/fail/skip counts from each test runner's closing lines, so `npm test` can
// refuse a suite that ran nothing and print one total. Skipped tests are their own count:
// never added to the passed ones.

/** @typedef {{ passed: number, failed: number, skipped: number }} Counts */

/** Counts from the closing lines of node's test runner (TAP reporter), and its skip directives. */
export function parseNodeTest(/** @type {string} */ output) {
  const pass = /^# pass (\d+)$/m.exec(output);
  const fail = /^# fail (\d+)$/m.exec(output);
  // "# skipped" leaves out whole skipped suites (describe with `skip`), whose tests are never
  // even listed; each skipped test or suite has its own "ok … # SKIP" line, so count those.
  const skipped = output.match(/^\s*ok \d+ - .* # SKIP\b/gm)?.length ?? 0;
  return pass && fail ? { passed: Number(pass[1]), failed: Number(fail[1]), skipped } : null;
}

/** Counts from doctest's "[doctest] test cases: N | P passed | F failed | S skipped" line. */
export function parseDoctest(/** @type {string} */ output) {
  const match =
    /test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed(?:\s*\|\s*(\d+) skipped)?/.exec(
      output,
    );
  return match
    ? { passed: Number(match[2]), failed: Number(match[3]), skipped: Number(match[4] ?? 0) }
    : null;
}

/** Counts from Vitest's "Tests  N passed | F failed (T)" line. */
export function parseVitest(/** @type {string} */ output) {
  // eslint-disable-next-line no-control-regex
  const line = output.replace(/\u001b\[[0-9;]*m/g, '').match(/^\s*Tests\s+(.*)$/m);
  if (!line?.[1]) return null;
  const passed = /(\d+) passed/.exec(line[1]);
  const failed = /(\d+) failed/.exec(line[1]);
  const skipped = /(\d+) skipped/.exec(line[1]);
  return {
    passed: Number(passed?.[1] ?? 0),
    failed: Number(failed?.[1] ?? 0),
    skipped: Number(skipped?.[1] ?? 0),
  };
}
