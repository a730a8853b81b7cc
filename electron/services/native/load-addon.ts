/**
 * Finds and loads the native addon for whichever layout is running: sources
 * under tsx, the esbuild bundles in dist/, or a packaged Electron app (where
 * native files live in app.asar.unpacked). Plain Node: never imports Electron.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './native-addon.ts';

const ADDON_FILE = 'nestbox.node';

/** The directory of the running file, in CommonJS bundles and in ES modules alike. */
function runningFileDir(): string {
  return typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
}

/** Inside a packaged app, files that must be real on disk are unpacked next to the asar. */
function unpackedFromAsar(path: string): string {
  return path.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
}

/** Every place the addon may be, in the order to try them. */
export function addonCandidates(
  env: NodeJS.ProcessEnv = process.env,
  fromDir: string = runningFileDir(),
): string[] {
  const candidates: string[] = [];
  if (env.NESTBOX_ADDON) {
    candidates.push(resolve(env.NESTBOX_ADDON));
  }
  const relative = [
    // Sources run with tsx: electron/services/native/ → repository root.
    join('..', '..', '..', 'native', 'build', 'Release', ADDON_FILE),
    join('..', '..', '..', 'dist', 'native', ADDON_FILE),
    // Bundles: dist/cli/nestbox.mjs, dist/electron/main.cjs → dist/native/.
    join('..', 'native', ADDON_FILE),
  ];
  for (const path of relative) {
    const absolute = resolve(fromDir, path);
    const unpacked = unpackedFromAsar(absolute);
    if (unpacked !== absolute) {
      candidates.push(unpacked);
    }
    candidates.push(absolute);
  }
  return [...new Set(candidates)];
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
}

export interface LoadedAddon {
  addon: NativeAddon;
  /** The file it was loaded from. */
  path: string;
}

/** Loads the first candidate that works, or throws an Error listing every path tried and why. */
export function locateNativeAddon(
  env: NodeJS.ProcessEnv = process.env,
  fromDir: string = runningFileDir(),
): LoadedAddon {
  const require = createRequire(join(fromDir, 'load-addon.js'));
  const failures: string[] = [];
  for (const path of addonCandidates(env, fromDir)) {
    if (!existsSync(path)) {
      failures.push(`  ${path}: not found`);
      continue;
    }
    try {
      return { addon: require(path) as NativeAddon, path };
    } catch (error) {
      failures.push(`  ${path}: ${describe(error)}`);
    }
  }
  throw new Error(
    `The Nestbox native addon (${ADDON_FILE}) could not be loaded. Tried:\n` +
      `${failures.join('\n')}\n` +
      'Run `npm run build:native` to build it, or set NESTBOX_ADDON to its path.',
  );
}

/** Loads the addon for the running layout; see locateNativeAddon for the error. */
export function loadNativeAddon(
  env: NodeJS.ProcessEnv = process.env,
  fromDir: string = runningFileDir(),
): NativeAddon {
  return locateNativeAddon(env, fromDir).addon;
}
