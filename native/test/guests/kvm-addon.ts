/**
 * The addon for tests that run guests on real /dev/kvm. Fails (never skips)
 * when KVM is unusable, with the probe's own explanation.
 */
import assert from 'node:assert/strict';
import { locateNativeAddon } from '../../../electron/services/native/load-addon.ts';
import type { NativeAddon } from '../../../electron/services/native/native-addon.ts';

export function addonWithKvm(): NativeAddon {
  const { addon } = locateNativeAddon();
  const status = addon.probeKvm();
  assert.ok(status.ok, `these tests need a usable /dev/kvm: ${JSON.stringify(status)}`);
  return addon;
}
