/**
 * The renderer's one door to the shared IPC contract (electron/common): types only, so
 * nothing from the main side is bundled into the page. Import contract types from here.
 */
export type {
  DisplayPortMessage,
  EventOf,
  PreloadApi,
  PreloadSubscriber,
  RequestChannel,
  RequestMap,
  RequestOf,
  ResponseOf,
  SubscriptionChannel,
  SubscriptionEnd,
  SubscriptionMap,
  SubscriptionParamsOf,
  VmRef,
  WireError,
  // A value, exported for `typeof` only: the page needs the names, not the table.
  requestFunctionNames,
} from '../../../electron/common/contract.ts';
export type {
  AppSettings,
  AppSettingsPatch,
  AppSettingsState,
  QuitAction,
  Theme,
} from '../../../electron/common/app-settings.ts';
export type { HostInfo, KvmProblem, KvmStatus } from '../../../electron/common/host-info.ts';
export type { Job, JobKind, JobState } from '../../../electron/common/jobs.ts';
export type {
  SnapshotDeleteResult,
  SnapshotKind,
  SnapshotNode,
  SnapshotRevertResult,
  SnapshotTakeResult,
  SnapshotTree,
  VmProgress,
} from '../../../electron/common/snapshot-types.ts';
export type { ValidationIssueData } from '../../../electron/common/validation-issue.ts';
export type {
  CreateVmRequest,
  GuestOs,
  VmConfig,
  VmDeleteOutcome,
  VmDetails,
  VmDisk,
  VmDisplay,
  VmInputEvent,
  VmPatch,
  VmPortForward,
  VmPortForwardInput,
  VmRunStatus,
} from '../../../electron/common/vm-details.ts';
export type {
  BrokenVmSummary,
  VmLastExit,
  VmList,
  VmRunState,
  VmSummary,
} from '../../../electron/common/vm-list.ts';
