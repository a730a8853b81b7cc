/**
 * A VM's life through the UI, end to end: the built renderer in Chromium against a real
 * `nestbox serve` with a library of its own, whose VM hosts are the real host process around
 * the scripted machine of electron/serve/testing (NESTBOX_VM_HOST, through
 * support/scripted-vm-host.mjs), so no /dev/kvm is needed. The scripted machine boots nothing:
 * it prints "echo ready", echoes serial input and shows a fixed 1024×768 picture.
 *
 * Each main screen is checked with axe-core (serious and critical violations fail) and
 * photographed into test-results/e2e. Needs `npm run build` first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openPage } from './support/browser.ts';
import { endServeRun } from './support/end-run.ts';
import { cliPath, repoRoot, screenshotDir, screenshotPath } from './support/paths.ts';
import { screenChecks } from './support/screen-checks.ts';
import { startServeProcess, type ServeProcess } from './support/serve-process.ts';

const VM_NAME = 'E2E Echo';
const STEP_MS = 20_000;

let scratch: string;
let kernel: string;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let errors: string[];
const screens = screenChecks(() => page);
const checkScreen = (name: string) => screens.check(name);

before(async () => {
  await mkdir(screenshotDir, { recursive: true });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'nestbox-e2e-vm-'));
  // The scripted machine checks only that the kernel is a file it can read, not what it holds.
  kernel = path.join(scratch, 'vmlinuz');
  await writeFile(kernel, 'not really a kernel\n');
  serve = await startServeProcess({
    env: {
      NESTBOX_HOME: path.join(scratch, 'home'),
      NESTBOX_VM_HOST: path.join(repoRoot, 'e2e', 'support', 'scripted-vm-host.mjs'),
    },
  });
  browser = await launchChromium();
  ({ page, errors } = await openPage(browser));
  page.setDefaultTimeout(STEP_MS);
});

after(async () => {
  // Leave no VM host running behind a failed test.
  await page
    ?.evaluate(async () => {
      const token = sessionStorage.getItem('nestbox.serve.accessToken') ?? '';
      const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
      const list = (await (await fetch('/api/vms.list', { method: 'POST', headers })).json()) as {
        vms: { id: string; state: string }[];
      };
      for (const vm of list.vms.filter((entry) => entry.state !== 'off')) {
        await fetch('/api/vms.stop', {
          method: 'POST',
          headers,
          body: JSON.stringify({ id: vm.id, force: true }),
        });
      }
    })
    .catch(() => undefined);
  screens.report();
  await endServeRun({ browser, serve, scratch });
});

const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });
const stateBadge = () => page.locator('.vm-page__heading .state-badge');

test('the library opens empty, with a way to create a VM', async () => {
  await page.goto(serve.url);
  await heading('Library').waitFor();
  await page.getByRole('heading', { name: 'No virtual machines yet' }).waitFor();
  await checkScreen('library-empty');
});

test('the wizard creates a VM', async () => {
  await page.getByRole('link', { name: 'Create a VM' }).click();
  await heading('New virtual machine').waitFor();
  await page.getByRole('textbox', { name: 'Name', exact: true }).waitFor();
  await checkScreen('wizard');

  await page.getByRole('textbox', { name: 'Name', exact: true }).fill(VM_NAME);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('textbox', { name: 'Kernel', exact: true }).fill(kernel);
  await page.getByRole('button', { name: 'Next' }).click(); // to processors and memory
  await page.getByRole('button', { name: 'Next' }).click(); // to the disk
  await page.getByRole('radio', { name: /No disk/ }).check();
  await page.getByRole('button', { name: 'Next' }).click(); // to the network
  await page.getByRole('button', { name: 'Next' }).click(); // to the display
  await page.getByRole('button', { name: 'Next' }).click(); // to the review
  await checkScreen('wizard-review');
  await page.getByRole('button', { name: 'Create VM' }).click();

  await heading(VM_NAME).waitFor();
  await page.waitForURL(/#\/vms\/[0-9a-f-]+$/);
  await stateBadge().filter({ hasText: 'Off' }).waitFor();
  await checkScreen('vm-page');
});

test('the VM starts, and its screen paints the scripted picture', async () => {
  await page.getByRole('toolbar', { name: 'Power' }).getByRole('button', { name: 'Start' }).click();
  await stateBadge().filter({ hasText: 'Running' }).waitFor();
  await checkScreen('vm-page-running');

  await page.getByRole('link', { name: 'Open screen' }).click();
  const canvas = page.locator('canvas');
  await canvas.waitFor();
  // The scripted picture: byte i of the 1024×768 BGRX frame is (i × 7) & 0xff.
  const points = [
    [0, 0],
    [1, 0],
    [37, 5],
    [512, 384],
    [1023, 767],
  ] as const;
  const expected = points.map(([x, y]) => {
    const offset = (y * 1024 + x) * 4;
    const byte = (index: number) => (index * 7) & 0xff;
    return [byte(offset + 2), byte(offset + 1), byte(offset), 255];
  });
  const read = () =>
    page.evaluate((where) => {
      const element = document.querySelector('canvas');
      const context = element?.getContext('2d');
      if (!element || !context || element.width !== 1024) return null;
      return where.map(([x, y]) => [...context.getImageData(x, y, 1, 1).data]);
    }, points);
  const deadline = Date.now() + STEP_MS;
  let pixels = await read();
  while (JSON.stringify(pixels) !== JSON.stringify(expected) && Date.now() < deadline) {
    await page.waitForTimeout(100);
    pixels = await read();
  }
  assert.deepEqual(pixels, expected, 'the canvas shows the scripted picture');
  await checkScreen('display');
});

test('the console shows the guest and echoes what is typed', async () => {
  await page.getByRole('link', { name: 'Back to summary' }).click();
  await page.getByRole('link', { name: 'Console' }).click();
  await heading(`Console of ${VM_NAME}`).waitFor();
  const screen = page.getByTestId('serial-console');
  const rows = screen.locator('.xterm-rows');
  await rows.filter({ hasText: 'echo ready' }).waitFor();
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();

  await screen.click();
  await page.keyboard.type('hello from e2e');
  await rows.filter({ hasText: 'hello from e2e' }).waitFor();
  await checkScreen('console');
});

test('powered off, the console says it is disconnected', async () => {
  await page.getByRole('link', { name: 'Back to summary' }).click();
  await heading(VM_NAME).waitFor();
  await page
    .getByRole('toolbar', { name: 'Power' })
    .getByRole('button', { name: 'Power off' })
    .click();
  await stateBadge().filter({ hasText: 'Off' }).waitFor();

  await page.goBack(); // the console page, now of a VM that is off
  await heading(`Console of ${VM_NAME}`).waitFor();
  await page
    .getByRole('status')
    .filter({ hasText: /^Disconnected/ })
    .waitFor();
  await page.screenshot({ path: screenshotPath('console-disconnected'), fullPage: true });
  await page.getByRole('link', { name: 'Back to summary' }).click();
  await heading(VM_NAME).waitFor();
});

test('the snapshot manager takes a snapshot of the VM', async () => {
  await page.getByRole('link', { name: 'Snapshots', exact: true }).click();
  await heading(`Snapshots of ${VM_NAME}`).waitFor();
  const tree = page.getByRole('tree', { name: 'Snapshots' });
  await tree.getByRole('treeitem', { name: 'You are here' }).waitFor();

  await page.getByRole('button', { name: 'Take snapshot…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Take a snapshot' });
  await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('Clean install');
  await dialog.getByRole('button', { name: 'Take snapshot' }).click();
  await tree.getByRole('treeitem', { name: /^Clean install/ }).waitFor();
  await page.getByText('Took snapshot Clean install').waitFor();
  await checkScreen('snapshots');
});

test('a VM folder from elsewhere opens into the library', async () => {
  // A VM made in another library (another drive, a backup), by the CLI as a user would.
  const made = execFileSync(
    process.execPath,
    [cliPath, 'create', 'Backup VM', '--kernel', kernel, '--memory', '64', '--json'],
    { env: { ...process.env, NESTBOX_HOME: path.join(scratch, 'elsewhere') }, encoding: 'utf8' },
  );
  const { folder } = JSON.parse(made) as { folder: string };

  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'Library', exact: true })
    .click();
  await heading('Library').waitFor();
  await page.getByRole('main').getByRole('button', { name: 'Open VM folder…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Open a VM folder' });
  const field = dialog.getByRole('textbox', { name: 'VM folder' });
  // A folder that is not a VM is refused beside the field, and nothing is added.
  const errorsBefore = errors.length;
  await field.fill(scratch);
  await dialog.getByRole('button', { name: 'Open', exact: true }).click();
  await dialog.getByText(/no vm\.json/).waitFor();
  // Chromium logs every non-2xx fetch; this one refusal was expected (and handled): drop its
  // line, so the last test still sees any other error.
  assert.deepEqual(errors.splice(errorsBefore), [
    'Failed to load resource: the server responded with a status of 400 (Bad Request)',
  ]);
  await checkScreen('open-vm-folder');

  await field.fill(folder);
  await dialog.getByRole('button', { name: 'Open', exact: true }).click();
  await heading('Backup VM').waitFor();
  await page.getByText('Added Backup VM to the library').waitFor();
  const listed = page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('list', { name: 'Virtual machines' });
  await listed.getByText('Backup VM').waitFor();
  await listed.getByText(VM_NAME).waitFor();
});

test('preferences', async () => {
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: 'Preferences' })
    .click();
  await heading('Preferences').waitFor();
  await checkScreen('preferences');
});

test('no console errors and no CSP violations on the way', () => {
  assert.deepEqual(errors, []);
});
