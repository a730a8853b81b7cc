/** Which KVM device node Nestbox opens: /dev/kvm, or another with the same ABI (tests, containers). */

/** Names another KVM device node for every VM this process (and the VM hosts it starts) runs. */
export const KVM_DEVICE_VARIABLE = 'NESTBOX_KVM_DEVICE';
export const DEFAULT_KVM_DEVICE = '/dev/kvm';

/** NESTBOX_KVM_DEVICE when set and not empty, else /dev/kvm. */
export function kvmDevicePath(env: NodeJS.ProcessEnv): string {
  const path = env[KVM_DEVICE_VARIABLE];
  return path !== undefined && path !== '' ? path : DEFAULT_KVM_DEVICE;
}
