import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import type { KvmStatus } from '../common/host-info.ts';
import { getHostInfo, type KvmProber } from './host-info.ts';

/** A fake addon that records the device paths it was asked to probe. */
function fakeAddon(status: KvmStatus): KvmProber & { probed: (string | undefined)[] } {
  const probed: (string | undefined)[] = [];
  return {
    probed,
    probeKvm(devicePath?: string) {
      probed.push(devicePath);
      return status;
    },
  };
}

const usable: KvmStatus = { ok: true, devicePath: '/dev/kvm', apiVersion: 12 };

test('reports the machine facts and the addon probe verbatim', () => {
  const addon = fakeAddon(usable);
  const info = getHostInfo(addon, { appVersion: '1.2.3' });

  assert.equal(info.hostname, os.hostname());
  assert.equal(info.kernelRelease, os.release());
  assert.equal(info.memoryBytes, os.totalmem());
  assert.ok(Number.isInteger(info.cpuCount) && info.cpuCount >= 1);
  assert.deepEqual(info.kvm, usable);
  assert.deepEqual(addon.probed, [undefined], 'probes the default device exactly once');
  assert.equal(info.versions.nestbox, '1.2.3');
  assert.equal(info.versions.node, process.versions.node);
});

test('passes an explicit device path to the probe', () => {
  const addon = fakeAddon(usable);
  getHostInfo(addon, { appVersion: '0.0.0', kvmDevicePath: '/tmp/not-kvm' });
  assert.deepEqual(addon.probed, ['/tmp/not-kvm']);
});

test('carries a failed probe and its actionable message unchanged', () => {
  const denied: KvmStatus = {
    ok: false,
    devicePath: '/dev/kvm',
    problem: 'permission',
    message: '/dev/kvm: permission denied — add your user to the kvm group',
  };
  assert.deepEqual(getHostInfo(fakeAddon(denied), { appVersion: '0.1.0' }).kvm, denied);
});

test('reports electron and chrome as null under plain Node, and their versions in Electron', () => {
  const plain = getHostInfo(fakeAddon(usable), {
    appVersion: '0.1.0',
    versions: { node: '20.20.2' },
  });
  assert.deepEqual(plain.versions, {
    nestbox: '0.1.0',
    node: '20.20.2',
    electron: null,
    chrome: null,
  });

  const inElectron = getHostInfo(fakeAddon(usable), {
    appVersion: '0.1.0',
    versions: { node: '22.20.0', electron: '45.4.1', chrome: '142.0.7444.0' },
  });
  assert.equal(inElectron.versions.electron, '45.4.1');
  assert.equal(inElectron.versions.chrome, '142.0.7444.0');
});
