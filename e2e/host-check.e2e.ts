/**
 * The first screen, end to end: built renderer in Chromium, `nestbox serve`, the real addon
 * probing the real /dev/kvm. Needs `npm run build` first.
 */
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage } from './support/browser.ts';
import { screenshotDir, screenshotPath } from './support/paths.ts';
import { startServeProcess, type ServeProcess } from './support/serve-process.ts';

let serve: ServeProcess;
let browser: Browser;

before(async () => {
  await mkdir(screenshotDir, { recursive: true });
  serve = await startServeProcess();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  const code = await serve?.stop();
  assert.equal(code, 0, `nestbox serve should stop cleanly on SIGTERM:\n${serve?.stderr()}`);
});

test('the printed address shows "This computer" with a usable KVM', async () => {
  const { page, errors } = await openPage(browser);
  const response = await page.goto(serve.url);
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);

  await page.getByRole('heading', { level: 1, name: 'This computer' }).waitFor();
  const kvmStatus = page.getByTestId('kvm-status');
  await kvmStatus.filter({ hasText: 'KVM API version 12' }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: screenshotPath('host-check'), fullPage: true });

  assert.deepEqual(errors, [], 'no console errors or CSP violations');
  await page.context().close();
});

test('the token is removed from the address bar, and a reload still works', async () => {
  const { page } = await openPage(browser);
  await page.goto(serve.url);
  await page.getByRole('heading', { level: 1, name: 'This computer' }).waitFor();
  await page.waitForFunction(() => !window.location.search.includes('token='));
  assert.doesNotMatch(page.url(), /token=/);
  assert.ok(!page.url().includes(serve.token));

  await page.reload();
  await page.getByTestId('kvm-status').filter({ hasText: 'KVM API version 12' }).waitFor();
  await page.context().close();
});

test('a page opened without the token explains how to get access', async () => {
  const { page } = await openPage(browser);
  await page.goto(`${serve.origin}/`);
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: /access token/i }).waitFor({ timeout: 10_000 });
  assert.match((await alert.first().textContent()) ?? '', /nestbox serve/);
  await page.screenshot({ path: screenshotPath('missing-token'), fullPage: true });
  await page.context().close();
});

test('the API refuses requests without the token', async () => {
  const response = await fetch(`${serve.origin}/api/host.info`, { method: 'POST' });
  assert.equal(response.status, 401);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'unauthorized');
});

test('the token file is private to the user', async () => {
  assert.equal((await stat(serve.tokenFile)).mode & 0o777, 0o600);
});
