#!/usr/bin/env node
// `npm test`: every check and test suite Nestbox has, in dependency order, with each
// runner's own summary line left visible and one total line at the end.
//
// Usage: node scripts/run-tests.mjs [suite…]   (no names: all suites; see `suites` below)
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDoctest, parseNodeTest, parseVitest } from './test-summaries.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Test files under `dir` whose names end with `suffix`, skipping build output. */
function findFiles(/** @type {string} */ dir, /** @type {string} */ suffix) {
  /** @type {string[]} */
  const found = [];
  const walk = (/** @type {string} */ current) => {
    for (const name of readdirSync(current)) {
      if (name === 'node_modules' || name === 'dist' || name === 'out' || name === 'build')
        continue;
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(suffix)) found.push(relative(root, path));
    }
  };
  walk(join(root, dir));
  return found.sort();
}

const nodeTest = (/** @type {string[]} */ files) => [
  process.execPath,
  '--import',
  'tsx',
  '--test',
  '--test-reporter=tap',
  '--test-concurrency=1',
  ...files,
];

/**
 * @typedef {{ passed: number, failed: number, skipped: number }} Counts
 * @typedef {{ name: string, command: () => string[], parse?: (output: string) => Counts | null, prerequisite?: boolean }} Suite
 * @type {Suite[]}
 */
const suites = [
  {
    name: 'system-packages',
    command: () => ['bash', 'scripts/setup-system.sh'],
    prerequisite: true,
  },
  { name: 'typecheck', command: () => ['npm', 'run', '--silent', 'typecheck'] },
  { name: 'lint', command: () => ['npm', 'run', '--silent', 'lint'] },
  { name: 'build', command: () => [process.execPath, 'scripts/build.mjs'], prerequisite: true },
  {
    name: 'native-unit',
    command: () => ['make', '--no-print-directory', '-j2', '-C', 'native/test/unit', 'test'],
    parse: parseDoctest,
  },
  {
    name: 'native-unit-sanitized',
    command: () => [
      'make',
      '--no-print-directory',
      '-j2',
      '-C',
      'native/test/unit',
      'test-sanitized',
    ],
    parse: parseDoctest,
  },
  {
    name: 'ts-unit',
    command: () =>
      nodeTest([...findFiles('electron', '.test.ts'), ...findFiles('scripts', '.test.mjs')]),
    parse: parseNodeTest,
  },
  {
    name: 'kvm-guests',
    command: () => nodeTest(findFiles('native/test/guests', '.test.ts')),
    parse: parseNodeTest,
  },
  {
    // Our disk-image layer against qemu-img/qemu-io, and `nestbox image`.
    name: 'block',
    command: () => nodeTest(findFiles('native/test/block', '.test.ts')),
    parse: parseNodeTest,
  },
  {
    // libFuzzer on the qcow2 parser and the virtqueue walker, bounded in time.
    name: 'fuzz',
    command: () => [
      'make',
      '--no-print-directory',
      '-C',
      'native/test/fuzz',
      'run',
      'FUZZ_SECONDS=20',
    ],
  },
  {
    // The real Debian kernel, fetched and unpacked by the test's own fixture setup.
    name: 'linux-boot',
    command: () => nodeTest(['native/test/linux/linux-boot.test.ts']),
    parse: parseNodeTest,
  },
  {
    name: 'components',
    command: () => ['npx', 'vitest', 'run', '--config', 'renderer/vitest.config.ts'],
    parse: parseVitest,
  },
  { name: 'e2e', command: () => nodeTest(findFiles('e2e', '.e2e.ts')), parse: parseNodeTest },
];

const selected = process.argv.slice(2);
for (const name of selected) {
  if (!suites.some((suite) => suite.name === name)) {
    console.error(
      `run-tests: unknown suite "${name}"; suites: ${suites.map((s) => s.name).join(', ')}`,
    );
    process.exit(2);
  }
}

/** Runs one command with its output streamed through and also kept for parsing. */
function run(/** @type {string[]} */ argv) {
  return new Promise((resolve) => {
    const [command, ...args] = argv;
    if (!command) throw new Error('empty command');
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      process.stderr.write(chunk);
    });
    child.on('error', (error) => resolve({ code: 127, output: `${output}\n${error.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

/** @type {{ name: string, ok: boolean, counts: Counts | null, seconds: number }[]} */
const results = [];
for (const suite of suites) {
  if (selected.length > 0 && !selected.includes(suite.name)) continue;
  console.log(`\n=== ${suite.name} ===`);
  const started = performance.now();
  const { code, output } = /** @type {{code: number, output: string}} */ (
    await run(suite.command())
  );
  const counts = suite.parse ? suite.parse(output) : null;
  // A runner that ran nothing has not passed: a missing summary, or no test that either
  // passed or was skipped with a reason, is a failure.
  const ok =
    code === 0 &&
    (!suite.parse ||
      (counts !== null && counts.passed + counts.skipped > 0 && counts.failed === 0));
  results.push({ name: suite.name, ok, counts, seconds: (performance.now() - started) / 1000 });
  if (!ok) {
    const why =
      code !== 0
        ? `exit status ${code}`
        : counts === null
          ? 'no test summary found'
          : 'no test ran';
    console.error(`run-tests: ${suite.name} failed (${why})`);
    // Tests need the system packages and the build; without them they would only
    // repeat the same failure. Every other suite reports independently.
    if (suite.prerequisite) break;
  }
}

console.log('\n=== summary ===');
let passed = 0;
let failed = 0;
let skipped = 0;
for (const result of results) {
  const counts = result.counts
    ? `${result.counts.passed} passed, ${result.counts.failed} failed` +
      (result.counts.skipped > 0 ? `, ${result.counts.skipped} skipped` : '')
    : '';
  console.log(
    `${result.ok ? 'ok  ' : 'FAIL'} ${result.name.padEnd(24)} ${result.seconds.toFixed(1).padStart(6)} s  ${counts}`,
  );
  passed += result.counts?.passed ?? 0;
  skipped += result.counts?.skipped ?? 0;
  failed += result.ok ? (result.counts?.failed ?? 0) : Math.max(1, result.counts?.failed ?? 1);
}
const allOk =
  results.every((result) => result.ok) && results.length === (selected.length || suites.length);
console.log(`total: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (skipped > 0) {
  // Said plainly, so a green run is never read as having tested what it skipped.
  console.log(
    `run-tests: ${skipped} tests or groups of tests were skipped, not passed; each says why ` +
      'above ("# SKIP" lines, doctest\'s note). Tests that boot guests need /dev/kvm.',
  );
}
process.exit(allOk ? 0 : 1);
