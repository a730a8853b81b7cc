/**
 * Finds the app's root (where package.json and dist/ live) and version. This file sits two
 * levels below the root both as source (electron/cli/) and once bundled (dist/cli/).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Replaced by scripts/build.mjs (esbuild `define`); absent when running from source. */
declare const __NESTBOX_VERSION__: string | undefined;

export const appRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function readAppVersion(root: string = appRoot): string {
  if (typeof __NESTBOX_VERSION__ === 'string') return __NESTBOX_VERSION__;
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  if (typeof manifest.version !== 'string') {
    throw new Error(`${root}/package.json has no version`);
  }
  return manifest.version;
}
