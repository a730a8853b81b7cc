import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { requestChannels } from '../common/contract.ts';
import type { KvmStatus } from '../common/host-info.ts';
import { RequestError } from './request-error.ts';
import { sampleConfig, makeTempDir } from './library/test-fixtures.ts';
import { serializeVmConfig } from './library/vm-config.ts';
import { createRequestHandlers, dispatchRequest } from './request-handlers.ts';
import { openVmServices } from './vm-host/vm-services.ts';

const usable: KvmStatus = { ok: true, devicePath: '/dev/kvm', apiVersion: 12 };
const fakeAddon = { probeKvm: () => usable };

test('every contract channel has a handler', () => {
  const handlers = createRequestHandlers({ appVersion: '0.1.0', loadNativeAddon: () => fakeAddon });
  assert.deepEqual(Object.keys(handlers).sort(), [...requestChannels].sort());
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
    await assert.rejects(dispatchRequest(handlers, 'host.info', payload), (error: unknown) => {
      assert.ok(error instanceof RequestError);
      assert.equal(error.code, 'bad-request');
      assert.equal(error.status, 400);
      return true;
    });
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
  await assert.rejects(dispatchRequest(handlers, 'host.info', undefined), (error: unknown) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.code, 'native-core-unavailable');
    assert.equal(error.status, 503);
    assert.match(error.message, /cannot open shared object file/);
    assert.match(error.message, /npm run build/);
    return true;
  });
  assert.deepEqual((await dispatchRequest(handlers, 'host.info', undefined)).kvm, usable);
  await dispatchRequest(handlers, 'host.info', undefined);
  assert.equal(attempts, 2, 'a loaded addon is kept');
});

test('vms.list lists the library with each VM off, and broken folders with the reason', async (t) => {
  const { dir, cleanup } = await makeTempDir('handlers');
  t.after(cleanup);
  const vms = path.join(dir, 'vms');
  await mkdir(path.join(vms, 'Alpine'), { recursive: true });
  await writeFile(path.join(vms, 'Alpine', 'vm.json'), serializeVmConfig(sampleConfig()));
  await mkdir(path.join(vms, 'Broken'));
  await writeFile(path.join(vms, 'Broken', 'vm.json'), '{ "schemaVersion": 1,');
  const env = { NESTBOX_HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config') };
  const handlers = createRequestHandlers({
    appVersion: '0.1.0',
    loadNativeAddon: () => fakeAddon,
    openVmServices: () => openVmServices({ env }),
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
  await assert.rejects(dispatchRequest(handlers, 'vms.list', { all: true }), RequestError);
});
