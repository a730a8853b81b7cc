#!/usr/bin/env node
// Builds everything `npm start`, `nestbox` and the tests run, into dist/:
//   dist/native/nestbox.node     the KVM core addon (node-gyp, see build-native.mjs)
//   dist/electron/main.cjs       Electron main process
//   dist/electron/preload.cjs    sandboxed preload (CommonJS, as Electron requires)
//   dist/cli/nestbox.mjs         the `nestbox` CLI and `nestbox serve`
//   dist/vm-host/vm-host.mjs     the VM host process (one per running VM)
//   dist/renderer/               the React UI (Vite)
//   dist/demo/demo-guest.elf     the demo VM's kernel (gcc, see build-demo-guest.mjs)
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import { buildDemoGuest } from './build-demo-guest.mjs';
import { buildNativeAddon } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = new Set(process.argv.slice(2));
const wants = (/** @type {string} */ part) => only.size === 0 || only.has(part);

/** @param {string} label @param {() => Promise<unknown>} step */
async function timed(label, step) {
  const started = performance.now();
  await step();
  console.log(`build: ${label} (${Math.round(performance.now() - started)} ms)`);
}

const packageJson = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));

/** @type {import('esbuild').BuildOptions} */
const nodeBundle = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // The addon is loaded at run time from dist/native; Electron is provided by its runtime.
  external: ['electron', '*.node'],
  define: { __NESTBOX_VERSION__: JSON.stringify(packageJson.version) },
};

if (wants('native')) {
  await timed('native addon', async () => {
    await buildNativeAddon();
    await mkdir(join(root, 'dist/native'), { recursive: true });
    await copyFile(
      join(root, 'native/build/Release/nestbox.node'),
      join(root, 'dist/native/nestbox.node'),
    );
  });
}

if (wants('electron')) {
  await timed('electron main + preload', () =>
    esbuild({
      ...nodeBundle,
      entryPoints: {
        main: join(root, 'electron/main/main.ts'),
        preload: join(root, 'electron/preload/preload.ts'),
      },
      format: 'cjs',
      outdir: join(root, 'dist/electron'),
      outExtension: { '.js': '.cjs' },
    }),
  );
}

/** @type {import('esbuild').BuildOptions} */
const esmNodeBundle = {
  ...nodeBundle,
  format: 'esm',
  outExtension: { '.js': '.mjs' },
  // Bundled CommonJS dependencies may call require(); give ESM output one.
  banner: {
    js: "import { createRequire as __nestboxCreateRequire } from 'node:module'; const require = __nestboxCreateRequire(import.meta.url);",
  },
};

if (wants('cli')) {
  await timed('cli', () =>
    esbuild({
      ...esmNodeBundle,
      entryPoints: { nestbox: join(root, 'electron/cli/nestbox.ts') },
      outdir: join(root, 'dist/cli'),
    }),
  );
  // The per-VM host process that `nestbox start` (and the app) launch: dist/vm-host/vm-host.mjs.
  await timed('vm host', () =>
    esbuild({
      ...esmNodeBundle,
      entryPoints: { 'vm-host': join(root, 'electron/services/vm-host/vm-host-main.ts') },
      outdir: join(root, 'dist/vm-host'),
    }),
  );
}

if (wants('renderer')) {
  await timed('renderer', () =>
    viteBuild({ configFile: join(root, 'renderer/vite.config.ts'), logLevel: 'warn' }),
  );
}

if (wants('demo')) {
  // Fails the build with an actionable message when gcc is missing.
  await timed('demo guest', () => buildDemoGuest());
}
