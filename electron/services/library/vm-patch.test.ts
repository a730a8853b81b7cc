import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleConfig } from './test-fixtures.ts';
import { formatIssues } from './validation.ts';
import { applyVmPatch, changesNeedingPowerOff } from './vm-patch.ts';

test('merges only what the patch names', () => {
  const current = sampleConfig();
  const result = applyVmPatch(current, {
    notes: 'for testing',
    hardware: { memoryMiB: 2048, network: { mode: 'none' } },
  });
  assert.ok(result.ok);
  assert.equal(result.value.notes, 'for testing');
  assert.equal(result.value.hardware.memoryMiB, 2048);
  assert.equal(result.value.hardware.cpus, current.hardware.cpus);
  assert.equal(result.value.hardware.network.mode, 'none');
  assert.equal(result.value.hardware.network.macAddress, current.hardware.network.macAddress);
  assert.deepEqual(
    result.value.hardware.network.portForwards,
    current.hardware.network.portForwards,
  );
  assert.deepEqual(result.value.boot, current.boot);
});

test('a bad value is reported with the path it has in vm.json', () => {
  const result = applyVmPatch(sampleConfig(), { hardware: { cpus: 100, display: { width: 1 } } });
  assert.ok(!result.ok);
  const text = formatIssues(result.issues);
  assert.match(text, /^hardware\.cpus: must be from 1 to 64, not 100$/m);
  assert.match(text, /^hardware\.display\.height: missing$/m);
});

test('identity and unknown fields cannot be patched', () => {
  const result = applyVmPatch(sampleConfig(), {
    id: '00000000-0000-0000-0000-000000000000',
    createdAt: 'x',
    hardware: { serial: false, gpu: true },
    colour: 'red',
  });
  assert.ok(!result.ok);
  const text = formatIssues(result.issues);
  assert.match(text, /^id: cannot be changed/m);
  assert.match(text, /^createdAt: cannot be changed/m);
  assert.match(text, /^hardware\.serial: cannot be changed/m);
  assert.match(text, /^hardware\.gpu: unknown field$/m);
  assert.match(text, /^colour: unknown field$/m);
  assert.ok(!applyVmPatch(sampleConfig(), null).ok);
  assert.ok(!applyVmPatch(sampleConfig(), { hardware: 'big' }).ok);
});

test('which changes need the VM off', () => {
  const before = sampleConfig();
  const after = (patch: unknown) => {
    const result = applyVmPatch(before, patch);
    assert.ok(result.ok, result.ok ? '' : formatIssues(result.issues));
    return changesNeedingPowerOff(before, result.value);
  };
  assert.deepEqual(after({ name: 'New name', notes: 'n', guestOs: 'other' }), []);
  assert.deepEqual(after({ hardware: { memoryMiB: 2048, cpus: 4 } }), [
    'hardware.cpus',
    'hardware.memoryMiB',
  ]);
  assert.deepEqual(after({ hardware: { network: { portForwards: [] } } }), [
    'hardware.network.portForwards',
  ]);
  assert.deepEqual(after({ hardware: { display: null } }), ['hardware.display']);
  assert.deepEqual(after({ boot: { ...before.boot, cmdline: 'quiet' } }), ['boot']);
  // Setting a field to its current value is no change.
  assert.deepEqual(after({ hardware: { cpus: before.hardware.cpus } }), []);
});
