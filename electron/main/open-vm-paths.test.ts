import assert from 'node:assert/strict';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { makeTempDir, sampleConfig } from '../services/library/test-fixtures.ts';
import { serializeVmConfig } from '../services/library/vm-config.ts';
import { createAppServices, dispatchRequest } from '../services/request-handlers.ts';
import {
  describeFailures,
  openVmFolders,
  vmFoldersInArgv,
  type OpenVmServices,
} from './open-vm-paths.ts';

const packaged = { defaultApp: false, workingDirectory: '/home/me' };

test('the packaged app: every argument after the executable is a folder, relative ones from the working directory', () => {
  assert.deepEqual(
    vmFoldersInArgv(['/opt/Nestbox/nestbox', '/srv/vms/web', 'vms/db', '../shared/ci'], packaged),
    ['/srv/vms/web', '/home/me/vms/db', '/home/shared/ci'],
  );
  assert.deepEqual(vmFoldersInArgv(['/opt/Nestbox/nestbox'], packaged), []);
});

test("Electron's and Chromium's switches are skipped, wherever they are", () => {
  // A second instance's argv can come back reordered, with switches Chromium added.
  const argv = [
    '/opt/Nestbox/nestbox',
    '--no-sandbox',
    '--enable-features=UseOzonePlatform',
    '/srv/vms/web',
    '--allow-file-access-from-files',
    '--original-process-start-time=13385',
    '-v',
    '--',
  ];
  assert.deepEqual(vmFoldersInArgv(argv, packaged), ['/srv/vms/web']);
});

test('started as `electron <app>` (a checkout), the app path is not a folder to open', () => {
  const context = { defaultApp: true, workingDirectory: '/src/nestbox' };
  assert.deepEqual(vmFoldersInArgv(['/usr/bin/electron', '.'], context), []);
  assert.deepEqual(
    vmFoldersInArgv(['/usr/bin/electron', '--inspect', '.', '/srv/vms/web'], context),
    ['/srv/vms/web'],
  );
});

test('file:// URLs (the AppImage entry passes %U) are local paths; other URLs are skipped', () => {
  const url = pathToFileURL('/home/me/VMs/Web server').href;
  assert.equal(url, 'file:///home/me/VMs/Web%20server');
  assert.deepEqual(
    vmFoldersInArgv(
      ['nestbox', url, 'sftp://host/vms/web', 'smb://nas/vms', 'file://otherhost/vms/x'],
      packaged,
    ),
    ['/home/me/VMs/Web server'],
  );
});

test('a vm.json names its folder; each folder once', () => {
  assert.deepEqual(
    vmFoldersInArgv(
      ['nestbox', '/srv/vms/web/vm.json', '/srv/vms/web', '/srv/vms/web/', 'vms/db/vm.json'],
      packaged,
    ),
    ['/srv/vms/web', '/home/me/vms/db'],
  );
});

/** Services that answer as the contract does, from a table of folders. */
function fakeServices(known: Record<string, 'new' | 'in-library' | 'broken' | 'not-a-vm'>) {
  const imported: string[] = [];
  const services: OpenVmServices = {
    async importVm(folder) {
      const what = known[folder];
      const fail = (code: string, message: string) => Object.assign(new Error(message), { code });
      if (what === 'in-library')
        throw fail('already-in-library', `${folder} is already in the library.`);
      if (what === 'broken') throw fail('broken-vm', `${folder}/vm.json is not valid JSON`);
      if (what !== 'new')
        throw fail('bad-request', `${folder} is not a Nestbox VM: it has no vm.json.`);
      imported.push(folder);
      return {
        id: `id-of-${path.basename(folder)}`,
        folder,
        config: sampleConfig({ name: path.basename(folder) }),
      };
    },
    async listVms() {
      return {
        root: '/lib',
        vms: [{ id: 'id-of-web', name: 'Web', folder: '/lib/web', state: 'off' }],
        broken: [{ folder: '/lib/broken', code: 'invalid-json', message: 'not JSON' }],
      };
    },
    // /home/me/web is a symbolic link to the library's /lib/web.
    realpath: async (file) => (file === '/home/me/web' ? '/lib/web' : file),
  };
  return { services, imported };
}

test('a new VM folder is imported and shown; one in the library (by any path) is just shown', async () => {
  const { services, imported } = fakeServices({
    '/backup/db': 'new',
    '/lib/web': 'in-library',
    '/home/me/web': 'in-library',
  });
  const fresh = await openVmFolders(['/backup/db'], services);
  assert.deepEqual(fresh.outcomes, [
    { kind: 'imported', folder: '/backup/db', id: 'id-of-db', name: 'db' },
  ]);
  assert.equal(fresh.route, '#/vms/id-of-db');
  assert.deepEqual(imported, ['/backup/db']);

  for (const folder of ['/lib/web', '/home/me/web']) {
    const known = await openVmFolders([folder], services);
    assert.deepEqual(known.outcomes, [
      { kind: 'in-library', folder: '/lib/web', id: 'id-of-web', name: 'Web' },
    ]);
    assert.equal(known.route, '#/vms/id-of-web');
    assert.deepEqual(known.failures, []);
  }
});

test('a broken VM of the library shows its page; folders that cannot be opened say why', async () => {
  const { services } = fakeServices({ '/lib/broken': 'broken', '/elsewhere/broken': 'broken' });
  const result = await openVmFolders(
    ['/lib/broken', '/home/me/Documents', '/elsewhere/broken'],
    services,
  );
  assert.deepEqual(
    result.outcomes.map((outcome) => outcome.kind),
    ['broken', 'failed', 'failed'],
  );
  assert.equal(result.route, `#/broken/${encodeURIComponent('/lib/broken')}`);
  assert.deepEqual(result.failures, [
    {
      folder: '/home/me/Documents',
      message: '/home/me/Documents is not a Nestbox VM: it has no vm.json.',
    },
    { folder: '/elsewhere/broken', message: '/elsewhere/broken/vm.json is not valid JSON' },
  ]);
  const text = describeFailures(result.failures);
  assert.equal(text.message, 'Couldn’t open 2 folders');
  assert.match(text.detail, /^\/home\/me\/Documents:\n.*no vm\.json\.\n\n\/elsewhere\/broken:\n/);
  const one = describeFailures(result.failures.slice(0, 1));
  assert.equal(one.message, 'Couldn’t open /home/me/Documents');
  assert.equal(one.detail, '/home/me/Documents is not a Nestbox VM: it has no vm.json.');
});

test('with the real services: imported once, then shown, also through a symbolic link', async (t) => {
  const { dir, cleanup } = await makeTempDir('open-vm');
  t.after(cleanup);
  const services = createAppServices({
    appVersion: '0.1.0',
    env: { NESTBOX_HOME: dir, XDG_RUNTIME_DIR: path.join(dir, 'runtime'), PATH: '' },
    loadNativeAddon: () => ({
      probeKvm: () => ({ ok: true, devicePath: '/dev/kvm', apiVersion: 12 }),
    }),
  });
  t.after(() => services.close());
  const open: OpenVmServices = {
    importVm: (folder) => dispatchRequest(services.handlers, 'vms.import', { folder }),
    listVms: () => dispatchRequest(services.handlers, 'vms.list', undefined),
    realpath: (file) => realpath(file),
  };
  const folder = path.join(dir, 'backup', 'Alpine');
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'vm.json'), serializeVmConfig(sampleConfig()));
  const link = path.join(dir, 'alpine-link');
  await symlink(folder, link);
  const id = sampleConfig().id;

  const argv = ['nestbox', pathToFileURL(folder).href, '--no-sandbox', `${link}/vm.json`];
  const folders = vmFoldersInArgv(argv, { defaultApp: false, workingDirectory: dir });
  assert.deepEqual(folders, [folder, link]);
  const result = await openVmFolders(folders, open);
  assert.deepEqual(result.outcomes, [
    { kind: 'imported', folder, id, name: 'Alpine' },
    { kind: 'in-library', folder, id, name: 'Alpine' },
  ]);
  assert.equal(result.route, `#/vms/${id}`);
  const list = await open.listVms();
  assert.deepEqual(
    list.vms.map((vm) => vm.folder),
    [folder],
  );
});
