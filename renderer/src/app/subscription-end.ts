import type { SubscriptionEnd } from '../client/contract.ts';

/** Why a VM's console or display stopped, as the end of a sentence ("Disconnected: …"). */
export function describeSubscriptionEnd(end: SubscriptionEnd): string {
  return end.reason === 'vm-stopped'
    ? 'the VM stopped.'
    : (end.error?.message ?? 'the connection to the VM was lost.');
}
