/**
 * axe-core on the page as it is now. The page's CSP allows no inline script, so axe is not
 * added as a <script>: Playwright evaluates its source through the DevTools protocol, which
 * the CSP does not govern, and the page keeps running under the CSP it was served with.
 */
import assert from 'node:assert/strict';
import axe from 'axe-core';
import type { Page } from 'playwright-core';

/** What blocks: the impacts axe calls serious or critical. */
const blocking = new Set(['serious', 'critical']);

type AxeWindow = Window & { axe?: typeof axe };

/** One line per violation, with the elements it found (enough to find it in the page). */
function describe(violation: axe.Result): string {
  const targets = violation.nodes
    .slice(0, 5)
    .map(
      (node) =>
        `      ${node.target.join(' ')}: ${node.failureSummary?.replace(/\s+/g, ' ') ?? ''}`,
    )
    .join('\n');
  return `${violation.impact}: ${violation.id} (${violation.help})\n${targets}`;
}

/** Fails on serious or critical violations; returns the others' ids for the test's log. */
export async function expectNoSeriousAxeViolations(page: Page, screen: string): Promise<string[]> {
  const loaded = await page.evaluate(() => (window as AxeWindow).axe !== undefined);
  if (!loaded) await page.evaluate(axe.source);
  const results = await page.evaluate(() => {
    const found = (window as AxeWindow).axe;
    if (!found) throw new Error('axe-core did not load');
    return found.run(document, { resultTypes: ['violations'] });
  });
  const serious = results.violations.filter((violation) => blocking.has(violation.impact ?? ''));
  assert.equal(
    serious.length,
    0,
    `${screen}: axe-core found serious or critical violations:\n${serious.map(describe).join('\n')}`,
  );
  return results.violations.map((violation) => `${violation.impact}: ${violation.id}`);
}
