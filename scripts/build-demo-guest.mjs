#!/usr/bin/env node
// Builds the demo VM's kernel, dist/demo/demo-guest.elf, from assets/demo-guest/demo.c: a
// freestanding guest compiled with the system gcc exactly as the test guests are (the same
// CFLAGS, entry stub and linker script, taken from native/test/guests/ rather than copied).
// The library offers "Try the demo VM" when this file exists (HostInfo.demoGuest).
//
// Usage: node scripts/build-demo-guest.mjs   (or as part of scripts/build.mjs)
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const guestsDir = join(root, 'native/test/guests');

/** Where the demo kernel is written. */
export const demoGuestOutput = join(root, 'dist/demo/demo-guest.elf');

/** Fails with a message a developer can act on when gcc is not installed. */
function requireGcc() {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      'building the demo guest needs gcc (the system C compiler), which was not found: ' +
        'install it (Debian/Ubuntu: sudo apt-get install gcc) or run scripts/setup-system.sh',
      { cause: error },
    );
  }
}

/** Compiles and links the demo guest; returns the ELF's path. */
export async function buildDemoGuest(output = demoGuestOutput) {
  requireGcc();
  /** @type {{ CFLAGS: string[] }} */
  const { CFLAGS } = await tsImport(
    pathToFileURL(join(guestsDir, 'build-guests.ts')).href,
    import.meta.url,
  );
  await mkdir(dirname(output), { recursive: true });
  const args = [
    ...CFLAGS,
    '-I',
    guestsDir,
    '-T',
    join(guestsDir, 'guest.ld'),
    '-o',
    output,
    join(guestsDir, 'entry.S'),
    join(root, 'assets/demo-guest/demo.c'),
  ];
  try {
    execFileSync('gcc', args, { stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    const failure = /** @type {{ stderr?: string, message: string }} */ (error);
    throw new Error(
      `building the demo guest: gcc ${args.join(' ')} failed:\n${failure.stderr ?? failure.message}`,
      { cause: error },
    );
  }
  return output;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const output = process.argv[2] ?? demoGuestOutput;
  console.log(`build-demo-guest: ${await buildDemoGuest(output)}`);
}
