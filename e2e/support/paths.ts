/** Where the e2e tests find the build and put their artefacts. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = path.join(repoRoot, 'dist', 'cli', 'nestbox.mjs');
export const screenshotDir = path.join(repoRoot, 'test-results', 'e2e');

export function screenshotPath(name: string): string {
  return path.join(screenshotDir, `${name}.png`);
}
