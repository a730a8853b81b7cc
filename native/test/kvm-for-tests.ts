/**
 * Whether this machine can run the tests that boot guests on KVM.
 *
 * Those tests need a KVM device node. Where the node does not exist at all (a machine
 * without hardware virtualization, or one that is itself a guest without nested KVM), they
 * are reported as skipped, with this reason, and counted as skipped in `npm test`'s total —
 * never as passed. Where the node exists but cannot be used (no permission, not KVM), they
 * run and fail with the probe's actionable message. NESTBOX_REQUIRE_KVM=1 makes a missing
 * node a failure too, for machines that are meant to have KVM.
 */
import { existsSync } from 'node:fs';
import { kvmDevicePath } from '../../electron/services/native/kvm-device.ts';

export const REQUIRE_KVM_VARIABLE = 'NESTBOX_REQUIRE_KVM';

/** The reason to skip KVM tests here, or false when they must run (and pass or fail). */
export function kvmSkipReason(env: NodeJS.ProcessEnv = process.env): string | false {
  const device = kvmDevicePath(env);
  if (existsSync(device) || env[REQUIRE_KVM_VARIABLE] === '1') return false;
  return `needs ${device}, which this machine does not have (${REQUIRE_KVM_VARIABLE}=1 makes this a failure)`;
}

/** True when the KVM tests run here. */
export const kvmTestsRun = (env: NodeJS.ProcessEnv = process.env): boolean =>
  kvmSkipReason(env) === false;
