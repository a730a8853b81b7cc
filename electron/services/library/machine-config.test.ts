import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toMachineConfig } from './machine-config.ts';
import { sampleConfig } from './test-fixtures.ts';

test('resolves paths against the VM folder and passes the hardware through', () => {
  const config = sampleConfig();
  config.hardware.disks = [
    { file: 'disk.qcow2', format: 'qcow2' },
    { file: '/srv/images/data.raw', format: 'raw', readOnly: true },
  ];
  assert.deepEqual(toMachineConfig({ folder: '/vms/Alpine', config }), {
    kernelPath: '/vms/Alpine/vmlinuz',
    initrdPath: '/vms/Alpine/initrd.img',
    cmdline: 'console=ttyS0',
    memoryMiB: 1024,
    cpus: 2,
    disks: [
      { path: '/vms/Alpine/disk.qcow2', readOnly: false },
      { path: '/srv/images/data.raw', readOnly: true },
    ],
    entropy: true,
    display: { width: 1024, height: 768, vramMiB: 16 },
    network: {
      macAddress: '02:5e:7a:10:22:9c',
      vmId: config.id,
      portForwards: [{ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 }],
    },
  });
});

test('no NIC for network mode none, headless without a display, optional KVM node', () => {
  const config = sampleConfig();
  config.hardware.network.mode = 'none';
  config.hardware.display = null;
  delete config.boot.initrd;
  const machine = toMachineConfig({ folder: '/vms/a', config }, { kvmDevicePath: '/dev/kvm-test' });
  assert.equal(machine.network, undefined);
  assert.equal(machine.display, null);
  assert.equal(machine.initrdPath, undefined);
  assert.equal(machine.kvmDevicePath, '/dev/kvm-test');
});
