import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KvmStatus } from '../common/host-info.ts';
import { demoGuestCandidates, getHostInfo, type KvmProber } from './host-info.ts';

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

test('reports the demo kernel when the build made one, and null otherwise', () => {
  const folder = mkdtempSync(join(os.tmpdir(), 'nestbox-demo-'));
  try {
    const missing = join(folder, 'missing', 'demo-guest.elf');
    const built = join(folder, 'demo-guest.elf');
    writeFileSync(built, '\x7fELF');
    const options = { appVersion: '0.1.0', versions: { node: '20.20.2' } };

    const without = getHostInfo(fakeAddon(usable), { ...options, demoGuestCandidates: [missing] });
    assert.equal(without.demoGuest, null);

    const withDemo = getHostInfo(fakeAddon(usable), {
      ...options,
      demoGuestCandidates: [missing, built],
    });
    assert.deepEqual(withDemo.demoGuest, { kernel: built, kernelFormat: 'elf' });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('looks for the demo kernel in dist/demo beside the sources and the bundles', () => {
  const root = '/opt/nestbox';
  assert.ok(
    demoGuestCandidates(join(root, 'electron/services')).includes(
      join(root, 'dist/demo/demo-guest.elf'),
    ),
  );
  assert.ok(
    demoGuestCandidates(join(root, 'dist/cli')).includes(join(root, 'dist/demo/demo-guest.elf')),
  );
  const packaged = demoGuestCandidates('/opt/Nestbox/resources/app.asar/dist/electron');
  assert.deepEqual(packaged.slice(0, 2), [
    '/opt/Nestbox/resources/app.asar.unpacked/dist/demo/demo-guest.elf',
    '/opt/Nestbox/resources/app.asar/dist/demo/demo-guest.elf',
  ]);
});

test('scripts/build-demo-guest.mjs compiles the demo guest into an x86-64 ELF executable', async () => {
  const folder = mkdtempSync(join(os.tmpdir(), 'nestbox-demo-build-'));
  try {
    // A plain-JS build script (no declarations): imported by a non-literal specifier.
    const script: string = '../../scripts/build-demo-guest.mjs';
    const { buildDemoGuest } = (await import(script)) as {
      buildDemoGuest(output?: string): Promise<string>;
    };
    const output = await buildDemoGuest(join(folder, 'demo-guest.elf'));
    const header = readFileSync(output);
    assert.deepEqual([...header.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic');
    assert.equal(header[4], 2, '64-bit');
    assert.equal(header.readUInt16LE(16), 2, 'ET_EXEC');
    assert.equal(header.readUInt16LE(18), 0x3e, 'EM_X86_64');
    assert.equal(header.readBigUInt64LE(24), 0x100000n, 'entry at 1 MiB, where guests load');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
