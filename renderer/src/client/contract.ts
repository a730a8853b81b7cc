/**
 * The renderer's one door to the shared IPC contract (electron/common): types only, so
 * nothing from the main side is bundled into the page. Import contract types from here.
 */
export type {
  PreloadApi,
  RequestChannel,
  RequestMap,
  RequestOf,
  ResponseOf,
  WireError,
} from '../../../electron/common/contract.ts';
export type { HostInfo, KvmProblem, KvmStatus } from '../../../electron/common/host-info.ts';
export type { VmList, VmRunState, VmSummary } from '../../../electron/common/vm-list.ts';
