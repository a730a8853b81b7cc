/**
 * What the new-VM wizard and the settings editor need from the services. The app builds
 * these from the NestboxClient (`vms.create`, `vms.get`, `vms.update`, `host.info`).
 */
import type { HostInfo } from '../../../client/contract.ts';
import type {
  CreateVmRequest,
  VmDetails,
  VmPatch,
} from '../../../../../electron/common/vm-details.ts';

export interface NewVmApi {
  /** `vms.create`. Rejects with field issues (NestboxClientError.issues) when a value is refused. */
  createVm(request: CreateVmRequest): Promise<VmDetails>;
  /** `host.info`: the CPU count and memory that bound what a VM may get. */
  hostInfo(): Promise<HostInfo>;
}

export interface VmSettingsApi {
  /** `vms.get`. */
  getVm(id: string): Promise<VmDetails>;
  /** `vms.update`: only what changed; hardware and boot are refused while the VM runs. */
  updateVm(id: string, patch: VmPatch): Promise<VmDetails>;
  /** `host.info`, for the CPU and memory limits; the schema's limits without it. */
  hostInfo?(): Promise<HostInfo>;
}

export type { CreateVmRequest, VmDetails, VmPatch };
