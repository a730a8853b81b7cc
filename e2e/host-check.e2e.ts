/**
 * The first screens, end to end: built renderer in Chromium, `nestbox serve`, the real addon
 * probing the real /dev/kvm. The home screen is the library; "This computer" is at
 * #/this-computer. Needs `npm run build` first.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage } from './support/browser.ts';
import { endServeRun } from './support/end-run.ts';
import { screenshotDir, screenshotPath } from './support/paths.ts';
import { startServeProcess, type ServeProcess } from './support/serve-process.ts';

let serve: ServeProcess;
let browser: Browser;
let home: string;

/**
 * What the KVM card says on this machine: the project's machines have a usable /dev/kvm (API
 * version 12); one without the device gets the addon's "missing" answer, which is checked
 * instead of failing for a reason that is not the UI's.
 */
const kvmStatusText = existsSync('/dev/kvm') ? 'KVM API version 12' : '/dev/kvm not found';

before(async () => {
  await mkdir(screenshotDir, { recursive: true });
  // A library and settings of its own, not the user's.
  home = await mkdtemp(path.join(os.tmpdir(), 'nestbox-e2e-home-'));
  serve = await startServeProcess({ env: { NESTBOX_HOME: home } });
  browser = await launchChromium();
});

after(async () => {
  await endServeRun({ browser, serve, scratch: home });
});

test('the printed address opens the library; "This computer" reports KVM', async () => {
  const { page, errors } = await openPage(browser);
  const response = await page.goto(serve.url);
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);

  await page.getByRole('heading', { level: 1, name: 'Library' }).waitFor();
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'This computer' })
    .click();
  await page.getByRole('heading', { level: 1, name: 'This computer' }).waitFor();
  assert.match(page.url(), /#\/this-computer$/);
  const kvmStatus = page.getByTestId('kvm-status');
  await kvmStatus.filter({ hasText: kvmStatusText }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: screenshotPath('host-check'), fullPage: true });

  assert.deepEqual(errors, [], 'no console errors or CSP violations');
  await page.context().close();
});

test('the token is removed from the address bar, and a reload still works', async () => {
  const { page } = await openPage(browser);
  await page.goto(`${serve.url}#/this-computer`);
  await page.getByRole('heading', { level: 1, name: 'This computer' }).waitFor();
  await page.waitForFunction(() => !window.location.search.includes('token='));
  assert.doesNotMatch(page.url(), /token=/);
  assert.ok(!page.url().includes(serve.token));
  assert.match(page.url(), /#\/this-computer$/, 'the hash survives the token removal');

  await page.reload();
  await page.getByTestId('kvm-status').filter({ hasText: kvmStatusText }).waitFor();
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
