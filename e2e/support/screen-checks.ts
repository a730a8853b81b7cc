/**
 * One e2e run's look at its main screens: each is photographed into test-results/e2e and
 * checked with axe-core (serious or critical violations fail the test); the minor and
 * moderate findings are kept for the run's log.
 */
import type { Page } from 'playwright-core';
import { expectNoSeriousAxeViolations } from './axe.ts';
import { screenshotDir, screenshotPath } from './paths.ts';

export interface ScreenChecks {
  /** Photographs and checks the screen on show as `name`. */
  check(name: string): Promise<void>;
  /** "screen: impact: rule" for every violation that did not fail the check. */
  readonly minorViolations: readonly string[];
  /** Prints where the screenshots are and the minor findings, for the run's log. */
  report(): void;
}

/** `page` is read at each check: tests open their page in a `before` hook. */
export function screenChecks(page: () => Page): ScreenChecks {
  const minorViolations: string[] = [];
  return {
    minorViolations,
    report() {
      console.log(`# screenshots: ${screenshotDir}`);
      if (minorViolations.length > 0) {
        console.log(`# axe-core, minor and moderate: ${minorViolations.join(', ')}`);
      }
    },
    async check(name) {
      // Let toasts and transitions settle so the picture and the check see the screen at rest.
      await page().waitForTimeout(300);
      await page().screenshot({ path: screenshotPath(name), fullPage: true });
      const others = await expectNoSeriousAxeViolations(page(), name);
      minorViolations.push(...others.map((violation) => `${name}: ${violation}`));
    },
  };
}
