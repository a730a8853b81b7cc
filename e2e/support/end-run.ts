/**
 * The end of an e2e file's run against `nestbox serve`: the browser closed, serve stopped
 * (it must exit cleanly on SIGTERM), the run's scratch folder removed.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import type { ServeProcess } from './serve-process.ts';

/** Each part may be missing: a `before` hook that failed half-way leaves some undefined. */
export async function endServeRun(parts: {
  browser: Browser | undefined;
  serve: ServeProcess | undefined;
  scratch: string | undefined;
}): Promise<void> {
  await parts.browser?.close();
  const code = await parts.serve?.stop();
  if (parts.scratch) await rm(parts.scratch, { recursive: true, force: true });
  assert.equal(code, 0, `nestbox serve should stop cleanly on SIGTERM:\n${parts.serve?.stderr()}`);
}
