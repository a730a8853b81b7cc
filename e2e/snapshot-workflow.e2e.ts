/**
 * Snapshots through the UI, end to end (issue 8): take a snapshot of a running VM, let its
 * state move on, revert and see the saved state again, take another, delete one. The built
 * renderer in Chromium against a real `nestbox serve` whose VM hosts are the real host process
 * around the scripted `counting` machine (electron/serve/testing/scripted-machines.ts), so no
 * /dev/kvm is needed. That guest's whole state is one number n, as snapshot-counter.c's: every
 * tick it writes n to its disk, draws frame n on its display (a checkerboard whose colours are
 * a function of n) and prints "count n"; a snapshot saves n, a revert continues at n + 1 (and
 * prints "restored n disk n": the disk went back too). So the test reads the count off the
 * console and off the pixels of the screen and of the snapshot's thumbnail.
 *
 * The VM is made through the API (the wizard has its e2e in vm-workflow.e2e.ts); everything
 * after that is clicks and typing. The snapshot manager is checked with axe-core (serious and
 * critical violations fail) and photographed into test-results/e2e. Needs `npm run build`.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { countingFramePixel } from '../electron/serve/testing/scripted-machines.ts';
import { launchChromium, openPage } from './support/browser.ts';
import { endServeRun } from './support/end-run.ts';
import { repoRoot, screenshotDir, screenshotPath } from './support/paths.ts';
import { screenChecks } from './support/screen-checks.ts';
import { startServeProcess, type ServeProcess } from './support/serve-process.ts';

const VM_NAME = 'E2E Counter';
const STEP_MS = 20_000;
/** A little slower than snapshot-counter.c on KVM (3–4 counts a second), for slow machines. */
const TICK_MS = 400;
/** snapshot-counter.c's own mode when none is set: small frames stream fast. */
const DISPLAY = { width: 640, height: 480, vramMiB: 16 };
/** Saving memory takes this long, so the progress bar is there to be seen. */
const SAVE_MS = 1500;
/**
 * How far the count moves on between the snapshot and the revert: after the revert the screen
 * must show a count from the snapshot's on, below the one seen before (so the test has about
 * MOVE_ON × TICK_MS to read it).
 */
const MOVE_ON = 25;
/** The largest count the screen is searched for (the run stays far below it). */
const MAX_COUNT = 100_000;

let scratch: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let errors: string[];
const screens = screenChecks(() => page);
const checkScreen = (name: string) => screens.check(name);

/** The count the snapshot "Counted" holds, and a count shown after it, before the revert. */
let saved = 0;
let later = 0;

before(async () => {
  await mkdir(screenshotDir, { recursive: true });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'nestbox-e2e-snapshots-'));
  serve = await startServeProcess({
    env: {
      NESTBOX_HOME: path.join(scratch, 'home'),
      NESTBOX_VM_HOST: path.join(repoRoot, 'e2e', 'support', 'scripted-vm-host.mjs'),
      NESTBOX_SCRIPTED_MACHINE: 'counting',
      NESTBOX_SCRIPTED_TICK_MS: String(TICK_MS),
      NESTBOX_SCRIPTED_SAVE_MS: String(SAVE_MS),
    },
  });
  browser = await launchChromium();
  ({ page, errors } = await openPage(browser));
  page.setDefaultTimeout(STEP_MS);
});

after(async () => {
  // The VM is left running (vm-workflow.e2e.ts powers one off through the UI): stop it, and
  // any left behind by a failed test.
  if (serve) {
    const list = await callApi<{ vms: { id: string; state: string }[] }>('vms.list').catch(() => ({
      vms: [],
    }));
    for (const vm of list.vms.filter((entry) => entry.state !== 'off')) {
      await callApi('vms.stop', { id: vm.id, force: true }).catch(() => undefined);
    }
  }
  screens.report();
  await endServeRun({ browser, serve, scratch });
});

/** A channel of the HTTP API, with the token `nestbox serve` printed. */
async function callApi<T>(channel: string, body?: unknown): Promise<T> {
  const response = await fetch(`${serve.origin}/api/${channel}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${serve.token}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  assert.ok(response.ok, `${channel} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });
const stateBadge = () => page.locator('.vm-page__heading .state-badge');
const tree = () => page.getByRole('tree', { name: 'Snapshots' });
const snapshotItem = (name: string) =>
  tree().getByRole('treeitem', { name: new RegExp(`^${name}`) });
const toasts = () => page.getByRole('region', { name: 'Notifications' });

/** Waits for a toast with this title and message; returns its text. */
async function expectToast(title: string, message: string | RegExp): Promise<string> {
  const toast = toasts()
    .getByRole('listitem')
    .filter({ hasText: title })
    .filter({ hasText: message });
  await toast.waitFor();
  return (await toast.innerText()).replace(/\s+/g, ' ').trim();
}

/** Dismisses every toast on show, as a user clears them before the next step. */
async function dismissToasts(): Promise<void> {
  const buttons = toasts().getByRole('button', { name: /^Dismiss: / });
  while ((await buttons.count()) > 0) await buttons.first().click();
}

/** The count whose frame these pixels (R, G, B at (0, 0), (16, 0), (0, 16)) are, or null. */
function countOfFrame(pixels: readonly (readonly number[])[]): number | null {
  const rgb = pixels.map(([r = 0, g = 0, b = 0]) => (r << 16) | (g << 8) | b);
  for (let n = 1; n <= MAX_COUNT; n += 1) {
    if (
      countingFramePixel(n, 0, 0) === rgb[0] &&
      countingFramePixel(n, 16, 0) === rgb[1] &&
      countingFramePixel(n, 0, 16) === rgb[2]
    ) {
      return n;
    }
  }
  return null;
}

/** Reads the count off a picture of the screen: an <img> at its natural size, or a <canvas>. */
async function countOnPicture(picture: Locator): Promise<number | null> {
  const pixels = await picture.evaluate((element: HTMLImageElement | HTMLCanvasElement) => {
    let canvas: HTMLCanvasElement;
    if (element instanceof HTMLImageElement) {
      canvas = document.createElement('canvas');
      canvas.width = element.naturalWidth;
      canvas.height = element.naturalHeight;
      canvas.getContext('2d')?.drawImage(element, 0, 0);
    } else {
      canvas = element;
    }
    const context = canvas.getContext('2d');
    if (!context || canvas.width < 32 || canvas.height < 32) return null;
    return [
      [0, 0],
      [16, 0],
      [0, 16],
    ].map(([x = 0, y = 0]) => [...context.getImageData(x, y, 1, 1).data]);
  });
  return pixels && countOfFrame(pixels);
}

/** Polls the screen's canvas until it shows a count that `accept` takes; returns it. */
async function countOnScreen(accept: (count: number) => boolean, what: string): Promise<number> {
  const canvas = page.locator('canvas');
  const deadline = Date.now() + STEP_MS;
  let count = await countOnPicture(canvas);
  while ((count === null || !accept(count)) && Date.now() < deadline) {
    await page.waitForTimeout(50);
    count = await countOnPicture(canvas);
  }
  assert.ok(count !== null && accept(count), `the screen shows ${what} (it shows ${count})`);
  return count;
}

/**
 * What the guest printed that is on show in the console now, line by line as it printed it:
 * "count 12", "restored 5 disk 5"… The guest ends its lines with a bare "\n", as
 * snapshot-counter.c does, so the terminal steps each line right of the last and wraps it
 * anywhere: the rows are read as one text and the lines found in it again.
 */
async function consoleLines(): Promise<string[]> {
  const rows = await page
    .getByTestId('serial-console')
    .locator('.xterm-rows > div')
    .allInnerTexts();
  const text = rows.join('').replace(/\s+/g, ' ');
  const line = /(count|boot ?disk|(restored|switched|resumed) ?(\d+) ?disk) ?(\d+)/g;
  return [...text.matchAll(line)].map(([, what = '', went, at, n = '']) => {
    if (went !== undefined) return `${went} ${at} disk ${n}`;
    return what === 'count' ? `count ${n}` : `boot disk ${n}`;
  });
}

/** The last "count <n>" on show. */
function lastCount(lines: readonly string[]): number | null {
  const counts = lines.flatMap((line) => /^count (\d+)$/.exec(line)?.[1] ?? []);
  return counts.length > 0 ? Number(counts.at(-1)) : null;
}

/**
 * Waits for `line` on the console, and the one after it: scrolls back with the mouse wheel
 * when it has gone up out of sight (as the count goes on), and down when it is the last row.
 * Returns the line after it.
 */
async function lineAfter(line: string): Promise<string> {
  const terminal = page.getByTestId('serial-console');
  await terminal.hover();
  const deadline = Date.now() + STEP_MS;
  while (Date.now() < deadline) {
    const lines = await consoleLines();
    const at = lines.lastIndexOf(line);
    if (at >= 0 && at + 1 < lines.length) return lines[at + 1] ?? '';
    // Seen as the last line: the next is below it, or not printed yet. Else it is above.
    await page.mouse.wheel(0, at >= 0 ? 40 : -120);
    await page.waitForTimeout(100);
  }
  assert.fail(`"${line}" and a line after it are on the console`);
}

async function openConsole(): Promise<void> {
  await page.getByRole('link', { name: 'Console' }).click();
  await heading(`Console of ${VM_NAME}`).waitFor();
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
}

async function openScreen(): Promise<void> {
  await page.getByRole('link', { name: 'Open screen' }).click();
  await page.locator('canvas').waitFor();
}

async function openSnapshots(): Promise<void> {
  await page.getByRole('link', { name: 'Snapshots', exact: true }).click();
  await heading(`Snapshots of ${VM_NAME}`).waitFor();
  // Its name begins with its text: the ▶ drawn before it is decoration (aria-hidden).
  await tree()
    .getByRole('treeitem', { name: /^You are here/ })
    .waitFor();
}

async function backToSummary(): Promise<void> {
  await page.getByRole('link', { name: 'Back to summary' }).click();
  await heading(VM_NAME).waitFor();
}

/**
 * Takes a snapshot through its dialog while the VM runs, and waits for the toast (left on
 * show); `photo` names a screenshot of the manager while it saves.
 */
async function takeSnapshot(name: string, description: string, photo?: string): Promise<void> {
  await page.getByRole('button', { name: 'Take snapshot…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Take a snapshot' });
  await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
  await dialog.getByRole('textbox', { name: 'Description' }).fill(description);
  await dialog.getByRole('button', { name: 'Take snapshot' }).click();
  await dialog.waitFor({ state: 'detached' });
  // Saving the running machine's memory takes a while, and the manager shows how far it got.
  const progress = page.getByRole('progressbar', { name: 'Saving memory…' });
  await progress.waitFor();
  if (photo) {
    // Once it has got somewhere (or, on a slow machine, already finished).
    await page.waitForFunction(() => {
      const bar = document.querySelector('[role="progressbar"]');
      return bar === null || Number(bar.getAttribute('aria-valuenow')) >= 25;
    });
    if ((await progress.count()) > 0) {
      await page.screenshot({ path: screenshotPath(photo), fullPage: true });
    }
  }
  await expectToast(
    `Took snapshot ${name}`,
    'It holds the running machine (memory and devices) and its disks.',
  );
  await page.getByRole('progressbar').waitFor({ state: 'detached' });
  await snapshotItem(name).waitFor();
}

test('a VM running the counting guest counts on its console', async () => {
  // The counting guest boots no kernel; the file only has to be there.
  const kernel = path.join(scratch, 'vmlinuz');
  await writeFile(kernel, 'not really a kernel\n');
  await callApi('vms.create', {
    name: VM_NAME,
    kernel,
    memoryMiB: 64,
    newDisk: { sizeBytes: 16 * 1024 * 1024 },
    network: { mode: 'none' },
    display: DISPLAY,
  });

  await page.goto(serve.url);
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: new RegExp(VM_NAME) })
    .click();
  await heading(VM_NAME).waitFor();
  await page.getByRole('toolbar', { name: 'Power' }).getByRole('button', { name: 'Start' }).click();
  await stateBadge().filter({ hasText: 'Running' }).waitFor();

  await openConsole();
  const rows = page.getByTestId('serial-console').locator('.xterm-rows');
  await rows.filter({ hasText: /boot disk ?0/ }).waitFor();
  await page.waitForFunction(() =>
    /count ?3/.test(document.querySelector('.xterm-rows')?.textContent ?? ''),
  );
  await backToSummary();
});

test('a snapshot of the running VM holds its count, in the thumbnail too', async () => {
  await openSnapshots();
  await page.getByText('No snapshots yet.').waitFor();
  await takeSnapshot('Counted', 'Taken while the guest counts', 'snapshots-saving');

  // Its details: the description, and the screen as it was, showing the count it saved.
  await snapshotItem('Counted').click();
  const details = page.getByRole('complementary', { name: 'Details' });
  await details.getByText('Taken while the guest counts').waitFor();
  await details.getByText('Memory and disks (resumes running)').waitFor();
  const thumbnail = details.getByRole('img', { name: 'Screen of Counted' });
  await thumbnail.waitFor();
  await page.waitForFunction(
    (element) =>
      element instanceof HTMLImageElement && element.complete && element.naturalWidth > 0,
    await thumbnail.elementHandle(),
  );
  const onThumbnail = await countOnPicture(thumbnail);
  assert.ok(onThumbnail !== null, 'the thumbnail shows a frame of the counting guest');
  saved = onThumbnail;
  await tree()
    .getByRole('treeitem', { name: /^You are here/ })
    .filter({ hasText: 'The VM now, since Counted' })
    .waitFor();
  await checkScreen('snapshots-taken');
  await dismissToasts();

  // Taking it moved the running VM onto new disks: the guest says where it went on from.
  await backToSummary();
  await openConsole();
  assert.equal(await lineAfter(`switched ${saved} disk ${saved}`), `count ${saved + 1}`);
});

test('the count moves on, on the console and on the screen', async () => {
  const deadline = Date.now() + STEP_MS;
  let count = lastCount(await consoleLines());
  while ((count ?? 0) < saved + MOVE_ON && Date.now() < deadline) {
    await page.waitForTimeout(200);
    count = lastCount(await consoleLines());
  }
  assert.ok(count !== null && count >= saved + MOVE_ON, `counting on from ${saved}: ${count}`);
  await page.screenshot({ path: screenshotPath('console-counting'), fullPage: true });

  await backToSummary();
  await openScreen();
  later = await countOnScreen((n) => n >= count, `a count from ${count} on`);
  await page.screenshot({ path: screenshotPath('display-counting'), fullPage: true });
  await backToSummary();
});

test('reverting, after a confirmation, brings the saved count back', async () => {
  await openSnapshots();
  await snapshotItem('Counted').click();
  await checkScreen('snapshots-before-revert');

  await page
    .getByRole('toolbar', { name: 'Snapshot actions' })
    .getByRole('button', { name: 'Revert…' })
    .click();
  const confirm = page.getByRole('alertdialog', { name: 'Revert to Counted?' });
  await confirm.getByText('The VM continues from the moment the snapshot was taken.').waitFor();
  await checkScreen('snapshots-revert-confirm');
  await confirm.getByRole('button', { name: 'Revert' }).click();
  await expectToast('Reverted to Counted', 'The VM runs on from the snapshot.');
  await tree()
    .getByRole('treeitem', { name: /^You are here/ })
    .filter({ hasText: 'The VM now, since Counted' })
    .waitFor();
  await checkScreen('snapshots-after-revert');
  await dismissToasts();

  // The screen shows the saved count again, or one just after it: not the later one.
  await backToSummary();
  await stateBadge().filter({ hasText: 'Running' }).waitFor();
  await openScreen();
  await countOnScreen(
    (n) => n >= saved && n < later,
    `the count again from ${saved} (before ${later})`,
  );
  await page.screenshot({ path: screenshotPath('display-after-revert'), fullPage: true });

  // The console: the guest continued the saved machine, on the saved disk, and counts on from it.
  await backToSummary();
  await openConsole();
  assert.equal(
    await lineAfter(`restored ${saved} disk ${saved}`),
    `count ${saved + 1}`,
    'the count continues from the snapshot',
  );
  await page.screenshot({ path: screenshotPath('console-after-revert'), fullPage: true });
  await backToSummary();
});

test('a second snapshot, then deleting the first: the tree follows', async () => {
  await openSnapshots();
  await takeSnapshot('After revert', 'Taken after going back to Counted');
  await dismissToasts();
  // Taken from Counted's state, it hangs under it.
  const second = snapshotItem('After revert');
  assert.equal(await second.getAttribute('aria-level'), '2');
  assert.equal(await snapshotItem('Counted').getAttribute('aria-level'), '1');

  await snapshotItem('Counted').click();
  await page
    .getByRole('toolbar', { name: 'Snapshot actions' })
    .getByRole('button', { name: 'Delete…' })
    .click();
  const confirm = page.getByRole('alertdialog', { name: 'Delete snapshot Counted?' });
  await confirm.getByText(/you can no longer revert to it/).waitFor();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  // What deleting freed is in the toast.
  const deleted = await expectToast('Deleted Counted', /Freed \d+(\.\d+)? ?[KMG]?i?B\./);
  console.log(`# ${deleted}`);
  await snapshotItem('Counted').waitFor({ state: 'detached' });
  await page.waitForFunction(
    () =>
      document.querySelector('[role="treeitem"][aria-level="1"] .snapshot-row__name')
        ?.textContent === 'After revert',
  );
  assert.equal(await second.getAttribute('aria-level'), '1');
  assert.equal(await tree().getByRole('treeitem').count(), 2, 'After revert and "You are here"');
  await checkScreen('snapshots-after-delete');
  await dismissToasts();
});

test('no console errors and no CSP violations on the way', () => {
  assert.deepEqual(errors, []);
});
