#!/usr/bin/env node
// `npm run bench`: builds, then runs every benchmark in bench/ (files named *.bench.ts or
// *.bench.mjs) one after another, so they do not compete for this machine's cores.
// Each benchmark prints its own figures beside a peer measured in the same run.
//
// Usage: node scripts/run-bench.mjs [name-filter]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filter = process.argv[2] ?? '';
const benches = readdirSync(join(root, 'bench'))
  .filter((name) => /\.bench\.(ts|mjs)$/.test(name) && name.includes(filter))
  .sort();

if (benches.length === 0) {
  console.error(`run-bench: no benchmark in bench/ matches "${filter}"`);
  process.exit(2);
}

const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

let failures = 0;
for (const bench of benches) {
  console.log(`\n=== ${bench} ===`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join('bench', bench)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error(`run-bench: ${bench} failed (exit status ${result.status})`);
    failures += 1;
  }
}
process.exit(failures === 0 ? 0 : 1);
