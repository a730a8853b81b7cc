#!/usr/bin/env node
// The `nestbox` command: runs the built CLI bundle, or says how to build it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli/nestbox.mjs', import.meta.url));
if (!existsSync(bundle)) {
  console.error(
    `nestbox: ${bundle} is missing — run \`npm run build\` in the Nestbox checkout first`,
  );
  process.exit(2);
}
await import(bundle);
