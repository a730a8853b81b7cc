import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import {
  requestChannels,
  subscriptionChannels,
  type RequestChannel,
  type SubscriptionChannel,
} from '../common/contract.ts';
import type { KvmStatus } from '../common/host-info.ts';
import type { VmList } from '../common/vm-list.ts';
import { makeTempDir, sampleConfig } from './library/test-fixtures.ts';
import { serializeVmConfig } from './library/vm-config.ts';
import { VmLibrary } from './library/vm-library.ts';
import { RequestError } from './request-error.ts';
import {
  createAppServices,
  createRequestHandlers,
  dispatchRequest,
  type ServiceDependencies,
} from './request-handlers.ts';
import { openVmServices, type VmServices } from './vm-host/vm-services.ts';

const usable: KvmStatus = { ok: true, devicePath: '/dev/kvm', apiVersion: 12 };
const fakeAddon = { probeKvm: () => usable };
const VM_ID = '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f';
const SNAPSHOT_ID = '0a3f5b0c-1d2e-4f30-8a4b-5c6d7e8f9a0b';

/** A library, settings and runtime folder of their own; PATH-less, so trash is `<library>/.trash`. */
async function sandbox(t: { after(fn: () => Promise<void>): void }) {
  const { dir, cleanup } = await makeTempDir('handlers');
  t.after(cleanup);
  const env: NodeJS.ProcessEnv = {
    NESTBOX_HOME: dir,
    XDG_RUNTIME_DIR: path.join(dir, 'runtime'),
    PATH: '',
  };
  const kernel = path.join(dir, 'vmlinuz');
  await writeFile(kernel, 'not really a kernel');
  return { dir, env, kernel, vms: path.join(dir, 'vms') };
}

/** Waits (up to 5 s, else fails) for `done` to hold. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function expectRequestError(
  promise: Promise<unknown>,
  code: string,
  what = '',
): Promise<RequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof RequestError,
      `${what}: expected a RequestError, got ${String(error)}`,
    );
    assert.equal(error.code, code, `${what}: ${error.message}`);
    return error;
  }
  assert.fail(`${what}: expected RequestError ${code}`);
}

test('every contract channel has a handler, and every subscription one', () => {
  const services = createAppServices({ appVersion: '0.1.0', loadNativeAddon: () => fakeAddon });
  assert.deepEqual(Object.keys(services.handlers).sort(), [...requestChannels].sort());
  assert.deepEqual(Object.keys(services.subscriptions).sort(), [...subscriptionChannels].sort());
  services.close();
});

test('host.info answers with the addon probe and the app version', async () => {
  const handlers = createRequestHandlers({ appVersion: '9.8.7', loadNativeAddon: () => fakeAddon });
  const info = await dispatchRequest(handlers, 'host.info', undefined);
  assert.deepEqual(info.kvm, usable);
  assert.equal(info.versions.nestbox, '9.8.7');
});

test('a parameterless request accepts no payload, null or {}, and refuses anything else', async () => {
  const handlers = createRequestHandlers({ appVersion: '0.1.0', loadNativeAddon: () => fakeAddon });
  for (const payload of [undefined, null, {}]) {
    await dispatchRequest(handlers, 'host.info', payload);
  }
  for (const payload of [{ devicePath: '/dev/sda' }, [], 'x', 0]) {
    const error = await expectRequestError(
      dispatchRequest(handlers, 'host.info', payload),
      'bad-request',
    );
    assert.equal(error.status, 400);
  }
});

test('an addon that fails to load gives an actionable error, and is retried next time', async () => {
  let attempts = 0;
  const handlers = createRequestHandlers({
    appVersion: '0.1.0',
    loadNativeAddon: () => {
      attempts += 1;
      if (attempts === 1) throw new Error('cannot open shared object file');
      return fakeAddon;
    },
  });
  const error = await expectRequestError(
    dispatchRequest(handlers, 'host.info', undefined),
    'native-core-unavailable',
  );
  assert.equal(error.status, 503);
  assert.match(error.message, /cannot open shared object file/);
  assert.match(error.message, /npm run build/);
  assert.deepEqual((await dispatchRequest(handlers, 'host.info', undefined)).kvm, usable);
  await dispatchRequest(handlers, 'host.info', undefined);
  assert.equal(attempts, 2, 'a loaded addon is kept');
});

const ABSOLUTE = '/boot/vmlinuz';
const create = (extra: Record<string, unknown>) => ({ name: 'x', kernel: ABSOLUTE, ...extra });

/** For every channel, payloads that must be refused before anything happens. */
const badRequests: { [C in RequestChannel]: unknown[] } = {
  'host.info': [{ devicePath: '/dev/sda' }, 'x'],
  'vms.list': [{ all: true }, [1]],
  'vms.get': [undefined, {}, { id: 'Alpine' }, { id: 42 }, { id: VM_ID, name: 'Alpine' }, 'x'],
  'vms.create': [
    undefined,
    { name: 'x' },
    { name: 'x', kernel: 'relative/vmlinuz' },
    create({ name: '  ' }),
    create({ cpus: 0 }),
    create({ memoryMiB: 'lots' }),
    create({ initrd: 'initrd.img' }),
    create({ disk: { file: '/images/a.qcow2' }, newDisk: { sizeBytes: 2 ** 30 } }),
    create({ disk: { file: '/images/a.img', format: 'vmdk' } }),
    create({ newDisk: { sizeBytes: 10 } }),
    create({ network: { mode: 'bridge' } }),
    create({ network: { mode: 'nat', portForwards: [{ hostPort: 70000, guestPort: 22 }] } }),
    create({ display: { width: 8192, height: 8192, vramMiB: 16 } }),
    create({ append: 'a\u0000b' }),
    create({ memoryMib: 512 }),
  ],
  'vms.import': [
    undefined,
    {},
    { folder: '' },
    { folder: 'relative/vm' },
    { folder: 42 },
    { folder: '/vms/a\nb' },
    { folder: '/vms/a', id: VM_ID },
    { Folder: '/vms/a' },
    '/vms/a',
  ],
  'vms.update': [
    { id: VM_ID },
    { id: VM_ID, patch: { hardware: { cpus: 1000 } } },
    { id: VM_ID, patch: { id: VM_ID } },
    { id: VM_ID, patch: { hardware: { serial: false } } },
    { id: VM_ID, patch: 'faster' },
    { id: 'nope', patch: {} },
  ],
  'vms.rename': [
    { id: VM_ID },
    { id: VM_ID, name: '' },
    { id: VM_ID, name: 'a\nb' },
    { id: VM_ID, name: 'x'.repeat(200) },
  ],
  'vms.delete': [
    {},
    { id: VM_ID, folder: '/vms/x' },
    { folder: 'relative' },
    { id: VM_ID, permanently: 'yes' },
  ],
  'vms.start': [{ id: 'x' }, { id: VM_ID, now: true }, { id: VM_ID, discardSuspended: 'yes' }],
  'vms.stop': [{ id: VM_ID, force: 'yes' }, { force: true }],
  'vms.pause': [{ id: '' }, { id: VM_ID, x: 1 }],
  'vms.resume': [{ id: 7 }],
  'vms.reset': [{ id: null }],
  'vms.suspend': [{}, { id: 'Alpine' }, { id: VM_ID, force: true }],
  'vms.clone': [
    { id: VM_ID },
    { id: VM_ID, name: '' },
    { id: VM_ID, name: '   ' },
    { id: VM_ID, name: 'x'.repeat(200) },
    { id: VM_ID, name: 'Copy', linked: true },
    { id: VM_ID, name: 'Copy', linked: 'yes', snapshot: SNAPSHOT_ID },
    { id: VM_ID, name: 'Copy', snapshot: 'Clean install' },
    { id: VM_ID, name: 'Copy', full: true },
    { id: 'x', name: 'Copy' },
  ],
  'vms.screenshot': [{ id: VM_ID, format: 'jpeg' }],
  'vms.sendKeys': [
    { id: VM_ID },
    { id: VM_ID, codes: [] },
    { id: VM_ID, codes: ['Key A'] },
    { id: VM_ID, codes: Array<string>(9).fill('KeyA') },
  ],
  'vms.input': [
    { id: VM_ID },
    { id: VM_ID, events: [{ type: 'key', code: 'KeyA' }] },
    { id: VM_ID, events: [{ type: 'teleport' }] },
    { id: VM_ID, events: [{ type: 'pointerMove', x: -1, y: 0 }] },
    { id: VM_ID, events: [{ type: 'wheel', dx: 0, dy: 0, dz: 1 }] },
    { id: VM_ID, events: Array(257).fill({ type: 'releaseAll' }) },
    { id: VM_ID, events: ['click'] },
  ],
  'vms.sendSerial': [
    { id: VM_ID },
    { id: VM_ID, text: 'a', base64: 'YQ==' },
    { id: VM_ID, base64: '***' },
    { id: VM_ID, text: 'x'.repeat(600 * 1024) },
  ],
  'snapshots.list': [{}, { id: 'nope' }, { id: VM_ID, all: true }],
  'snapshots.thumbnail': [
    { id: VM_ID },
    { id: VM_ID, snapshot: '../../vm.json' },
    { id: VM_ID, snapshot: `${SNAPSHOT_ID}/../x` },
    { id: VM_ID, snapshot: SNAPSHOT_ID, size: 64 },
  ],
  'snapshots.take': [
    { id: VM_ID },
    { id: VM_ID, name: '' },
    { id: VM_ID, name: '   ' },
    { id: VM_ID, name: 'x'.repeat(101) },
    { id: VM_ID, name: 'a\nb' },
    { id: VM_ID, name: 'Clean', description: 'x'.repeat(10_001) },
    { id: VM_ID, name: 'Clean', description: 'a\u0000b' },
    { id: VM_ID, name: 'Clean', memory: true },
    { id: 'x', name: 'Clean' },
  ],
  'snapshots.revert': [
    { id: VM_ID },
    { id: VM_ID, snapshot: 'Clean install' },
    { id: VM_ID, snapshot: SNAPSHOT_ID, force: true },
  ],
  'snapshots.delete': [{ id: VM_ID, snapshot: 42 }, { snapshot: SNAPSHOT_ID }],
  'snapshots.rename': [
    { id: VM_ID, snapshot: SNAPSHOT_ID },
    { id: VM_ID, snapshot: SNAPSHOT_ID, name: '' },
    { id: VM_ID, snapshot: SNAPSHOT_ID, name: 'x'.repeat(101) },
    { id: VM_ID, snapshot: SNAPSHOT_ID, description: 7 },
    { id: VM_ID, snapshot: SNAPSHOT_ID, title: 'Clean' },
    { id: VM_ID, snapshot: 'Clean', name: 'Cleaner' },
  ],
  'settings.get': [{ theme: 'dark' }],
  'settings.update': [
    { theme: 'neon' },
    { schemaVersion: 2 },
    { vmFolder: 'relative/vms' },
    { hotkeys: { releaseKeyboard: 'Ctrl' } },
    { confirmations: { deleteVm: 'ask' } },
    'dark',
  ],
  'jobs.list': ['x', [1]],
  'jobs.cancel': [undefined, {}, { id: 'job-1' }, { id: 7 }, { id: VM_ID, force: true }, 'x'],
};

test('every channel refuses bad requests with bad-request and the field, and does nothing', async (t) => {
  const { env, dir } = await sandbox(t);
  let acted = 0;
  const handlers = createRequestHandlers({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => {
      acted += 1;
      return fakeAddon;
    },
    openVmServices: () => {
      acted += 1;
      return Promise.reject(new Error('a refused request must not reach the services'));
    },
  });
  for (const channel of requestChannels) {
    const payloads = badRequests[channel];
    assert.ok(payloads.length > 0, `${channel} has bad requests to try`);
    for (const payload of payloads) {
      const what = `${channel} ${JSON.stringify(payload)?.slice(0, 80)}`;
      const error = await expectRequestError(
        dispatchRequest(handlers, channel, payload),
        'bad-request',
        what,
      );
      assert.equal(error.status, 400, what);
      // Requests with fields say which one is wrong.
      if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
        if (!['host.info', 'vms.list', 'settings.get'].includes(channel)) {
          assert.ok(error.issues.length > 0, `${what}: names the bad field`);
        }
      }
    }
  }
  assert.equal(acted, 0, 'no refused request reached a service');
  await assert.rejects(stat(path.join(dir, 'settings.json')), { code: 'ENOENT' });
});

test('the issues name the request fields', async () => {
  const handlers = createRequestHandlers({ appVersion: '0.1.0', loadNativeAddon: () => fakeAddon });
  const cases: [RequestChannel, unknown, string][] = [
    ['vms.create', create({ cpus: 0 }), 'cpus'],
    ['vms.create', create({ append: 'a\u0000b' }), 'append'],
    [
      'vms.create',
      create({ network: { mode: 'nat', portForwards: [{ hostPort: 0, guestPort: 22 }] } }),
      'network.portForwards[0].hostPort',
    ],
    ['vms.create', create({ memoryMib: 512 }), 'memoryMib'],
    ['vms.update', { id: VM_ID, patch: { hardware: { cpus: 1000 } } }, 'patch.hardware.cpus'],
    ['vms.input', { id: VM_ID, events: [{ type: 'pointerMove', x: -1, y: 0 }] }, 'events[0].x'],
    ['vms.clone', { id: VM_ID, name: 'Copy', linked: true }, 'snapshot'],
    ['vms.import', { folder: 'Downloads/vm' }, 'folder'],
    ['snapshots.take', { id: VM_ID, name: ' ' }, 'name'],
    ['snapshots.take', { id: VM_ID, name: 'Clean', descripton: '' }, 'descripton'],
    ['snapshots.thumbnail', { id: VM_ID, snapshot: '../tree.json' }, 'snapshot'],
    [
      'snapshots.rename',
      { id: VM_ID, snapshot: SNAPSHOT_ID, description: 'a\u0000b' },
      'description',
    ],
    ['settings.update', { theme: 'neon' }, 'theme'],
  ];
  for (const [channel, payload, field] of cases) {
    const error = await expectRequestError(
      dispatchRequest(handlers, channel, payload),
      'bad-request',
    );
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      [field],
      `${channel}: ${error.message}`,
    );
  }
});

test('vms.list lists the library with each VM off, and broken folders with the reason', async (t) => {
  const { env, vms } = await sandbox(t);
  await mkdir(path.join(vms, 'Alpine'), { recursive: true });
  await writeFile(path.join(vms, 'Alpine', 'vm.json'), serializeVmConfig(sampleConfig()));
  await mkdir(path.join(vms, 'Broken'));
  await writeFile(path.join(vms, 'Broken', 'vm.json'), '{ "schemaVersion": 1,');
  const handlers = createRequestHandlers({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => fakeAddon,
  });

  const list = await dispatchRequest(handlers, 'vms.list', undefined);
  assert.equal(list.root, vms);
  assert.deepEqual(
    list.vms.map(({ name, state }) => ({ name, state })),
    [{ name: 'Alpine', state: 'off' }],
  );
  assert.equal(list.broken.length, 1);
  assert.equal(list.broken[0]?.folder, path.join(vms, 'Broken'));
  assert.match(list.broken[0]?.message ?? '', /vm\.json/);
});

test('a VM is created, read, changed, renamed and deleted through the channels', async (t) => {
  const { env, kernel, dir } = await sandbox(t);
  const qcow2 = path.join(dir, 'existing.qcow2');
  await writeFile(qcow2, Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
  const made: string[] = [];
  const handlers = createRequestHandlers({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => ({
      ...fakeAddon,
      imageCreate: async (file: string) => {
        made.push(file);
        await writeFile(file, 'new disk');
      },
    }),
  });

  // Files that are not there are refused on their field, and nothing is made.
  const missing = await expectRequestError(
    dispatchRequest(handlers, 'vms.create', { name: 'Ghost', kernel: path.join(dir, 'nope') }),
    'bad-request',
  );
  assert.deepEqual(
    missing.issues.map((issue) => issue.path),
    ['kernel'],
  );
  assert.equal((await dispatchRequest(handlers, 'vms.list', undefined)).vms.length, 0);

  const alpine = await dispatchRequest(handlers, 'vms.create', {
    name: 'Alpine',
    kernel,
    append: 'console=ttyS0',
    cpus: 2,
    memoryMiB: 512,
    disk: { file: qcow2 },
    network: { mode: 'nat', portForwards: [{ hostPort: 2222, guestPort: 22 }] },
    display: null,
  });
  assert.equal(alpine.state, 'off');
  assert.equal(alpine.config.boot.cmdline, 'console=ttyS0');
  assert.deepEqual(alpine.config.hardware.disks, [{ file: qcow2, format: 'qcow2' }]);
  assert.deepEqual(alpine.config.hardware.network.portForwards, [
    { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
  ]);
  assert.equal(alpine.config.hardware.display, null);

  const withDisk = await dispatchRequest(handlers, 'vms.create', {
    name: 'Fresh',
    kernel,
    newDisk: { sizeBytes: 2 ** 30 },
  });
  assert.deepEqual(made, [path.join(withDisk.folder, 'disk.qcow2')]);
  assert.deepEqual(withDisk.config.hardware.disks, [{ file: 'disk.qcow2', format: 'qcow2' }]);

  assert.equal(
    (await dispatchRequest(handlers, 'vms.get', { id: alpine.id })).config.name,
    'Alpine',
  );
  const updated = await dispatchRequest(handlers, 'vms.update', {
    id: alpine.id,
    patch: { hardware: { cpus: 4 }, notes: 'for tests' },
  });
  assert.equal(updated.config.hardware.cpus, 4);
  assert.equal(updated.config.notes, 'for tests');
  const renamed = await dispatchRequest(handlers, 'vms.rename', {
    id: alpine.id,
    name: ' Alpine 3 ',
  });
  assert.equal(renamed.config.name, 'Alpine 3');

  // Lifecycle requests on a VM that is off.
  for (const channel of ['vms.pause', 'vms.resume', 'vms.reset', 'vms.screenshot'] as const) {
    const error = await expectRequestError(
      dispatchRequest(handlers, channel, { id: alpine.id }),
      'not-running',
      channel,
    );
    assert.equal(error.status, 409);
    assert.match(error.message, /"Alpine 3" is not running/);
  }
  assert.deepEqual(await dispatchRequest(handlers, 'vms.stop', { id: alpine.id }), {
    id: alpine.id,
    state: 'off',
  });

  const outcome = await dispatchRequest(handlers, 'vms.delete', { id: alpine.id });
  assert.equal(outcome.method, 'library-trash');
  await expectRequestError(dispatchRequest(handlers, 'vms.get', { id: alpine.id }), 'not-found');
  const unknown = await expectRequestError(
    dispatchRequest(handlers, 'vms.start', { id: VM_ID }),
    'not-found',
  );
  assert.equal(unknown.status, 404);
});

test('vms.import adds a VM folder where it is, and says clearly why a folder cannot be added', async (t) => {
  const { env, dir, vms } = await sandbox(t);
  const services = createAppServices({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => fakeAddon,
    // Polling far too slow to matter: only the import's own poke can send the new list.
    changeFeed: { intervalMs: 60_000 },
  });
  t.after(() => services.close());
  const { handlers } = services;
  const lists: VmList[] = [];
  const subscription = await services.subscriptions['vms.changed'].open(undefined, {
    event: (list) => lists.push(list),
    end: () => undefined,
  });
  t.after(() => subscription.close());
  await until(() => lists.length === 1);

  const backup = path.join(dir, 'backup', 'Alpine');
  await mkdir(backup, { recursive: true });
  await writeFile(path.join(backup, 'vm.json'), serializeVmConfig(sampleConfig()));
  const imported = await dispatchRequest(handlers, 'vms.import', { folder: backup });
  assert.equal(imported.id, VM_ID);
  assert.equal(imported.folder, backup);
  assert.equal(imported.imported, true);
  assert.equal(imported.config.name, 'Alpine');
  assert.equal(imported.state, 'off');
  // Listed where it is, and vms.changed tells the renderer at once.
  const list = await dispatchRequest(handlers, 'vms.list', undefined);
  assert.deepEqual(
    list.vms.map(({ id, folder }) => ({ id, folder })),
    [{ id: VM_ID, folder: backup }],
  );
  await until(() => lists.length === 2);
  assert.deepEqual(
    lists[1]?.vms.map(({ id }) => id),
    [VM_ID],
  );
  const registry = JSON.parse(await readFile(path.join(vms, 'library.json'), 'utf8')) as {
    imported: string[];
  };
  assert.deepEqual(registry.imported, [backup]);

  // Again (with a trailing slash): already in the library, a 409 a client can recognize.
  const again = await expectRequestError(
    dispatchRequest(handlers, 'vms.import', { folder: `${backup}/` }),
    'already-in-library',
  );
  assert.equal(again.status, 409);
  assert.match(again.message, /"Alpine" .* is already in the library/);

  // A folder with no vm.json, a folder that is not there, a file: on the folder field.
  const documents = path.join(dir, 'Documents');
  await mkdir(documents);
  await writeFile(path.join(documents, 'letter.txt'), 'dear');
  const refusals: [string, RegExp][] = [
    [documents, /is not a Nestbox VM: it has no vm\.json/],
    [path.join(dir, 'nowhere'), /nowhere cannot be opened: there is no such folder/],
    [path.join(documents, 'letter.txt'), /is a file, not a Nestbox VM folder/],
  ];
  for (const [folder, message] of refusals) {
    const error = await expectRequestError(
      dispatchRequest(handlers, 'vms.import', { folder }),
      'bad-request',
      folder,
    );
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      ['folder'],
    );
    assert.match(error.issues[0]?.message ?? '', message);
  }

  // A copy of a VM that is in the library: refused, saying so.
  const copy = path.join(dir, 'copy-of-alpine');
  await mkdir(copy);
  await writeFile(path.join(copy, 'vm.json'), serializeVmConfig(sampleConfig({ name: 'Twin' })));
  const duplicate = await expectRequestError(
    dispatchRequest(handlers, 'vms.import', { folder: copy }),
    'bad-request',
  );
  assert.match(duplicate.message, /same id as "Alpine".*copy of a VM already in the library/s);

  // A broken vm.json: every problem in the message, and the file left as it was.
  const broken = path.join(dir, 'Broken');
  await mkdir(broken);
  const brokenText = serializeVmConfig(sampleConfig({ id: SNAPSHOT_ID })).replace(
    '"cpus": 2',
    '"cpus": 0',
  );
  await writeFile(path.join(broken, 'vm.json'), brokenText);
  const brokenError = await expectRequestError(
    dispatchRequest(handlers, 'vms.import', { folder: broken }),
    'broken-vm',
  );
  assert.equal(brokenError.status, 409);
  assert.match(brokenError.message, /vm\.json has 1 problem:\nhardware\.cpus: /);
  assert.match(brokenError.message, /Fix its vm\.json/);
  assert.equal(await readFile(path.join(broken, 'vm.json'), 'utf8'), brokenText);

  // A VM inside the library folder is in the library already.
  const made = await dispatchRequest(handlers, 'vms.create', {
    name: 'Made here',
    kernel: path.join(dir, 'vmlinuz'),
  });
  await expectRequestError(
    dispatchRequest(handlers, 'vms.import', { folder: made.folder }),
    'already-in-library',
  );

  // None of the refusals changed the list of imported folders.
  const after = JSON.parse(await readFile(path.join(vms, 'library.json'), 'utf8')) as {
    imported: string[];
  };
  assert.deepEqual(after.imported, [backup]);
});

test('hardware changes to a running VM are refused with vm-running; its name may change', async (t) => {
  const { env, kernel } = await sandbox(t);
  const running = async (): Promise<VmServices> => {
    const services = await openVmServices({ env });
    const library = new VmLibrary({ root: services.root, env, isRunning: () => true });
    return { ...services, library };
  };
  const handlers = createRequestHandlers({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => fakeAddon,
    openVmServices: running,
  });
  const vm = await dispatchRequest(handlers, 'vms.create', { name: 'Busy', kernel });
  for (const patch of [
    { hardware: { cpus: 2 } },
    { hardware: { network: { mode: 'none' } } },
    { hardware: { display: null } },
    { boot: { kind: 'kernel', kernel, cmdline: 'quiet' } },
  ]) {
    const error = await expectRequestError(
      dispatchRequest(handlers, 'vms.update', { id: vm.id, patch }),
      'vm-running',
      JSON.stringify(patch),
    );
    assert.equal(error.status, 409);
    assert.match(error.message, /Power it off/);
  }
  assert.equal((await dispatchRequest(handlers, 'vms.get', { id: vm.id })).config.hardware.cpus, 1);
  const renamed = await dispatchRequest(handlers, 'vms.update', {
    id: vm.id,
    patch: { name: 'Still busy', notes: 'ok' },
  });
  assert.equal(renamed.config.name, 'Still busy');
  await expectRequestError(dispatchRequest(handlers, 'vms.delete', { id: vm.id }), 'vm-running');
});

test('settings are read and changed; a bad change leaves the file alone', async (t) => {
  const { env, dir } = await sandbox(t);
  const handlers = createRequestHandlers({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => fakeAddon,
  });
  const initial = await dispatchRequest(handlers, 'settings.get', undefined);
  assert.equal(initial.settings.theme, 'system');
  assert.equal(initial.problem, undefined);
  const changed = await dispatchRequest(handlers, 'settings.update', {
    theme: 'dark',
    hotkeys: { releaseKeyboard: 'alt+ctrl' },
  });
  assert.equal(changed.theme, 'dark');
  assert.equal(changed.hotkeys.releaseKeyboard, 'Ctrl+Alt');
  const file = await readFile(path.join(dir, 'settings.json'), 'utf8');
  await expectRequestError(
    dispatchRequest(handlers, 'settings.update', { theme: 'neon' }),
    'bad-request',
  );
  assert.equal(await readFile(path.join(dir, 'settings.json'), 'utf8'), file);
  assert.equal((await dispatchRequest(handlers, 'settings.get', undefined)).settings.theme, 'dark');
});

test('vms.changed sends the list at once and again after a change', async (t) => {
  const { env, kernel } = await sandbox(t);
  const deps: ServiceDependencies = {
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => fakeAddon,
    changeFeed: { intervalMs: 50 },
  };
  const services = createAppServices(deps);
  t.after(() => services.close());
  const lists: VmList[] = [];
  const ends: unknown[] = [];
  const subscription = await services.subscriptions['vms.changed'].open(undefined, {
    event: (list) => lists.push(list),
    end: (end) => ends.push(end),
  });
  await until(() => lists.length === 1);
  assert.deepEqual(lists[0]?.vms, []);
  const vm = await dispatchRequest(services.handlers, 'vms.create', { name: 'New', kernel });
  await until(() => lists.length === 2);
  assert.deepEqual(
    lists[1]?.vms.map(({ id, state }) => ({ id, state })),
    [{ id: vm.id, state: 'off' }],
  );
  // Nothing changed: nothing is sent.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(lists.length, 2);
  // A change made behind the app's back (another process) is seen by looking at the files.
  const services2 = await openVmServices({ env });
  await services2.library.rename(vm.id, 'Renamed elsewhere');
  await until(() => lists.length === 3);
  assert.equal(lists[2]?.vms[0]?.name, 'Renamed elsewhere');
  subscription.close();
  await dispatchRequest(services.handlers, 'vms.rename', { id: vm.id, name: 'After' });
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(lists.length, 3, 'nothing after close');
  assert.deepEqual(ends, []);
});

test('subscriptions refuse bad params, and a VM that is not running', async (t) => {
  const { env, kernel } = await sandbox(t);
  const services = createAppServices({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => fakeAddon,
  });
  t.after(() => services.close());
  const bad: { [S in SubscriptionChannel]: unknown[] } = {
    'vms.changed': [{ all: true }],
    'vm.serial': [{}, { id: 'x' }, { id: VM_ID, history: 'yes' }, { id: VM_ID, follow: true }],
    'vm.display': [{}, { id: VM_ID, scale: 2 }],
    'vm.progress': [{}, { id: 'x' }, { id: VM_ID, operation: 'take' }],
    'jobs.changed': [{ all: true }],
  };
  for (const channel of subscriptionChannels) {
    for (const params of bad[channel]) {
      assert.throws(() => services.subscriptions[channel].parseParams(params), {
        name: 'RequestError',
        code: 'bad-request',
      });
    }
  }
  const vm = await dispatchRequest(services.handlers, 'vms.create', { name: 'Off', kernel });
  const sink = { event: () => assert.fail('no events'), end: () => assert.fail('no end') };
  await expectRequestError(
    services.subscriptions['vm.serial'].open({ id: vm.id }, sink),
    'not-running',
  );
  await expectRequestError(
    services.subscriptions['vm.display'].open({ id: vm.id }, sink),
    'not-running',
  );
  await expectRequestError(
    services.subscriptions['vm.progress'].open({ id: vm.id }, sink),
    'not-running',
  );
  await expectRequestError(
    services.subscriptions['vm.display'].open({ id: VM_ID }, sink),
    'not-found',
  );
});
