/**
 * The demo VM's guest (assets/demo-guest/demo.c, built by scripts/build-demo-guest.mjs) on real
 * /dev/kvm, booted headless by `nestbox run` as a user would: it counts on COM1 and answers a
 * typed byte. (Headless, it says "demo: no display"; the display path is the same as
 * snapshot-counter.c's.) Skipped where the machine has no KVM device node;
 * fails where the node exists but cannot be used.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { spawnNestbox } from './run-nestbox.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

/** Generous: CPL-0 set-up is emulated on the CI machines; the counting runs natively. */
const KILL_AFTER_MS = 90_000;

let scratch: string;
let kernel: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'nestbox-demo-guest-'));
  // A plain-JS build script (no declarations): imported by a non-literal specifier.
  const script: string = '../../../scripts/build-demo-guest.mjs';
  const { buildDemoGuest } = (await import(script)) as {
    buildDemoGuest(output?: string): Promise<string>;
  };
  kernel = await buildDemoGuest(join(scratch, 'demo-guest.elf'));
});

after(() => rmSync(scratch, { recursive: true, force: true }));

test(
  'the demo guest counts on its serial console and answers what is typed',
  { skip: kvmSkipReason() },
  async () => {
    let typed = false;
    const { result } = spawnNestbox(['run', '--kernel', kernel, '--memory', '128'], {
      killAfterMs: KILL_AFTER_MS,
      closeStdin: false,
      onStdout: (stdout, child) => {
        if (!typed && stdout.includes('count 1\n')) {
          typed = true;
          child.stdin?.write('x');
        }
        if (stdout.includes('you typed: x\n') && stdout.includes('count 3\n')) {
          child.kill('SIGTERM');
        }
      },
    });
    const run = await result;
    assert.match(run.stdout, /^demo: (no display|\d+x\d+)\n/, run.stderr);
    const counts = run.stdout.split('\n').filter((line) => line.startsWith('count '));
    assert.deepEqual(counts.slice(0, 3), ['count 1', 'count 2', 'count 3'], run.stderr);
    assert.match(run.stdout, /\nyou typed: x\n/, run.stderr);
  },
);
