/**
 * Debian's Chromium driven by playwright-core: the Electron binary cannot be downloaded on
 * the test machines, and this is the same engine the app ships.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const chromiumPath = process.env['NESTBOX_E2E_CHROMIUM'] ?? '/usr/bin/chromium';

/** Flags that work headless, as root and offline (see docs PLATFORM-NOTES). */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Playwright gives every launch a fresh temporary profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

/**
 * A page in its own context (fresh storage), collecting console errors and failed page
 * scripts so a test can assert the UI ran cleanly under the CSP.
 */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, errors };
}
