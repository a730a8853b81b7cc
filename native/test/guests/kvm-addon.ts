/**
 * The addon for tests that run guests on real /dev/kvm. Where KVM is usable it checks that
 * it is; where the device node is missing (kvmSkipReason), those tests are skipped by their
 * own `skip` option and this returns the addon unchecked, so a file's hooks still run for the
 * tests in it that do not need KVM. A node that exists but cannot be used fails here, with
 * the probe's own explanation.
 */
import assert from 'node:assert/strict';
import { locateNativeAddon } from '../../../electron/services/native/load-addon.ts';
import type { NativeAddon } from '../../../electron/services/native/native-addon.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

export function addonWithKvm(): NativeAddon {
  const { addon } = locateNativeAddon();
  if (kvmSkipReason() !== false) return addon;
  const status = addon.probeKvm();
  assert.ok(status.ok, `these tests need a usable /dev/kvm: ${JSON.stringify(status)}`);
  return addon;
}
