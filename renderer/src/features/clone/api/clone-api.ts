/** What the clone dialog needs from the services (`vms.clone`). */
import type { VmDetails } from '../../../client/contract.ts';

export interface CloneOptions {
  name: string;
  /** An overlay on the snapshot instead of a copy (needs `snapshot`). */
  linked?: boolean;
  /** Clone the snapshot's state rather than the VM's current one. */
  snapshot?: string;
}

export interface CloneApi {
  /** `vms.clone`: answers with the new VM. */
  cloneVm(sourceId: string, options: CloneOptions): Promise<VmDetails>;
}
