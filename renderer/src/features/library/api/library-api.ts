/**
 * What the library screens need from the services. The app builds this from the
 * NestboxClient; members the client does not offer yet are left out, and the screens leave
 * out what depends on them (no buttons that do nothing).
 */
import type { VmList, VmProgress } from '../../../client/contract.ts';
import type { DemoGuest } from '../../../../../electron/common/host-info.ts';
import type {
  CreateVmRequest,
  VmDeleteOutcome,
  VmDetails,
  VmRunStatus,
} from '../../../../../electron/common/vm-details.ts';

/** The power buttons, as the toolbar names them. */
export type PowerAction =
  'start' | 'shutdown' | 'powerOff' | 'pause' | 'resume' | 'suspend' | 'reset';

export interface LibraryApi {
  /** `vms.list`. */
  listVms(): Promise<VmList>;
  /**
   * `vms.changed`: the current list at once, then on every change. Without it the library
   * asks `vms.list` again now and then and after each action.
   */
  watchVms?(onList: (list: VmList) => void, onError: (error: Error) => void): () => void;
  /** `vms.get`: the config behind the summary page. */
  getVm?(id: string): Promise<VmDetails>;
  /**
   * `vms.start` … `vms.reset`, `vms.suspend` (shutdown: `vms.stop`; powerOff: `vms.stop` with
   * force). Actions left out are not shown.
   */
  power?: Partial<Record<PowerAction, (id: string) => Promise<VmRunStatus>>>;
  /** `vms.start` with `discardSuspended`: a suspended VM's saved state is thrown away, then it boots. */
  discardSavedState?(id: string): Promise<VmRunStatus>;
  /**
   * `vm.progress`: a running VM saving its memory (a suspend, a snapshot), whoever asked.
   * Returns the unsubscribe; the subscription simply ends when there is nothing to report.
   */
  watchProgress?(id: string, onProgress: (progress: VmProgress) => void): () => void;
  /** `vms.screenshot`, as a URL an <img> can show (a data: URL). */
  screenshot?(id: string): Promise<string>;
  /** `vms.delete`: a VM by id, or a broken folder by its path. */
  deleteVm?(target: { id: string } | { folder: string }): Promise<VmDeleteOutcome>;
  /** `host.info`'s `demoGuest`: the demo VM's kernel this build ships, or null. */
  demoGuest?(): Promise<DemoGuest | null>;
  /**
   * `vms.import`: "Open VM folder…" adds a VM folder from elsewhere (an absolute path) to the
   * library, where it stays. A folder that is in it already fails with 'already-in-library'.
   */
  importVm?(folder: string): Promise<VmDetails>;
  /** `vms.create`: the empty library's "Try the demo VM" makes its VM with it. */
  createVm?(request: CreateVmRequest): Promise<VmDetails>;
}
