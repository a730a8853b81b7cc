/**
 * The one IPC contract between the renderer and the services, whatever carries it
 * (Electron's preload or `nestbox serve` over HTTP + WebSocket). Main, preload, serve
 * and the renderer all import these types; the renderer imports types only.
 *
 * Two kinds of message (docs/ipc.md):
 * - requests: request/response pairs keyed by a channel name. The preload exposes one function
 *   per channel; `nestbox serve` exposes each as `POST /api/<channel>`.
 * - subscriptions: a stream of events the renderer asks for and later drops. The preload
 *   exposes one function per subscription, returning an unsubscribe; `nestbox serve` carries
 *   each on a WebSocket.
 */
import type { AppSettings, AppSettingsPatch, AppSettingsState } from './app-settings.ts';
import type { HostInfo } from './host-info.ts';
import type { Job } from './jobs.ts';
import type {
  SnapshotDeleteResult,
  SnapshotNode,
  SnapshotRevertResult,
  SnapshotTakeResult,
  SnapshotTree,
  VmProgress,
} from './snapshot-types.ts';
import type { ValidationIssueData } from './validation-issue.ts';
import type {
  CreateVmRequest,
  VmDeleteOutcome,
  VmDetails,
  VmInputEvent,
  VmPatch,
  VmRunStatus,
} from './vm-details.ts';
import type { VmLastExit, VmList } from './vm-list.ts';

/** Names one VM: its id (a UUID, as `vms.list` reports it). */
export interface VmRef {
  id: string;
}

export interface RequestMap {
  /** Machine facts and whether /dev/kvm is usable. */
  'host.info': { request: undefined; response: HostInfo };
  /** Every VM of the library with whether it runs, and the folders that are not usable VMs. */
  'vms.list': { request: undefined; response: VmList };
  /** One VM's config and run state. */
  'vms.get': { request: VmRef; response: VmDetails };
  /** A new VM in the library (what `nestbox create` does). */
  'vms.create': { request: CreateVmRequest; response: VmDetails };
  /**
   * Adds a VM folder from elsewhere (another drive, a backup) to the library without moving
   * it: "Open a virtual machine". The folder must hold a valid vm.json; a folder that is in
   * the library already is `already-in-library`.
   */
  'vms.import': { request: { folder: string }; response: VmDetails };
  /** Changes named fields; hardware and boot changes are refused while the VM runs. */
  'vms.update': { request: VmRef & { patch: VmPatch }; response: VmDetails };
  /** The display name (the folder keeps its name). */
  'vms.rename': { request: VmRef & { name: string }; response: VmDetails };
  /**
   * To the trash (or erased with `permanently`). A broken VM, which has no usable id, is
   * named by its folder as `vms.list` reports it.
   */
  'vms.delete': {
    request: (VmRef | { folder: string }) & { permanently?: boolean };
    response: VmDeleteOutcome;
  };
  /**
   * Powers on, in a VM host process of its own; answers once it runs. A suspended VM
   * continues where it was, unless `discardSuspended` throws its saved state away first.
   */
  'vms.start': { request: VmRef & { discardSuspended?: boolean }; response: VmRunStatus };
  /**
   * Without `force`: presses the ACPI power button (resuming a paused VM first) and answers at
   * once; the guest decides and `vms.changed` reports it off. With `force`: powers off (kills
   * a host that does not answer) and answers once the VM is off.
   */
  'vms.stop': { request: VmRef & { force?: boolean }; response: VmRunStatus };
  'vms.pause': { request: VmRef; response: VmRunStatus };
  'vms.resume': { request: VmRef; response: VmRunStatus };
  /** The reset button. */
  'vms.reset': { request: VmRef; response: VmRunStatus };
  /**
   * Saves the running VM's whole state and powers it off: answers once it is 'suspended'
   * (`vm.progress` reports the saving). `vms.start` continues it.
   */
  'vms.suspend': { request: VmRef; response: VmRunStatus };
  /**
   * A new VM with the source's hardware and boot settings and disks of its own: a full copy
   * of its current state (the source must be off) or of a snapshot's, or with `linked` an
   * overlay on a snapshot (made at once; the snapshot is then protected).
   */
  'vms.clone': {
    request: VmRef & { name: string; linked?: boolean; snapshot?: string };
    response: VmDetails;
  };
  /** The visible screen as a PNG, base64 in JSON (both transports carry it the same way). */
  'vms.screenshot': { request: VmRef; response: { mimeType: 'image/png'; base64: string } };
  /** A key combination by `KeyboardEvent.code` (Ctrl+Alt+Delete: ControlLeft, AltLeft, Delete). */
  'vms.sendKeys': { request: VmRef & { codes: string[] }; response: { delivered: boolean } };
  /** Keyboard and pointer events in order (a viewer sends what it gathered each frame). */
  'vms.input': {
    request: VmRef & { events: VmInputEvent[] };
    response: { delivered: number };
  };
  /** Text or bytes (base64) for the guest's serial console; `input-full`: retry later. */
  'vms.sendSerial': {
    request: VmRef & ({ text: string } | { base64: string });
    response: { queued: number };
  };
  /** The VM's snapshot tree and where it is now ("you are here"), running or off. */
  'snapshots.list': { request: VmRef; response: SnapshotTree };
  /** The screen when the snapshot was taken, as a PNG, base64 in JSON. */
  'snapshots.thumbnail': {
    request: VmRef & { snapshot: string };
    response: { mimeType: 'image/png'; base64: string };
  };
  /** Running (or paused): memory, devices and disks; off: the disks only. */
  'snapshots.take': {
    request: VmRef & { name: string; description?: string };
    response: SnapshotTakeResult;
  };
  /** Goes back to a snapshot; what the VM did since is discarded. */
  'snapshots.revert': { request: VmRef & { snapshot: string }; response: SnapshotRevertResult };
  /** Removes a snapshot; its disk changes are merged into what depends on them. */
  'snapshots.delete': { request: VmRef & { snapshot: string }; response: SnapshotDeleteResult };
  /** A new name, a new description, or both. */
  'snapshots.rename': {
    request: VmRef & { snapshot: string; name?: string; description?: string };
    response: SnapshotNode;
  };
  'settings.get': { request: undefined; response: AppSettingsState };
  'settings.update': { request: AppSettingsPatch; response: AppSettings };
  /** The long operations running now, and the last ones that ended (common/jobs.ts). */
  'jobs.list': { request: undefined; response: Job[] };
  /** Asks a running cancellable job to stop; answers with the job (still running until it has). */
  'jobs.cancel': { request: { id: string }; response: Job };
}

export type RequestChannel = keyof RequestMap;
export type RequestOf<C extends RequestChannel> = RequestMap[C]['request'];
export type ResponseOf<C extends RequestChannel> = RequestMap[C]['response'];

/** The preload function for each request channel: one function per message. */
export const requestFunctionNames = {
  'host.info': 'hostInfo',
  'vms.list': 'listVms',
  'vms.get': 'getVm',
  'vms.create': 'createVm',
  'vms.import': 'importVm',
  'vms.update': 'updateVm',
  'vms.rename': 'renameVm',
  'vms.delete': 'deleteVm',
  'vms.start': 'startVm',
  'vms.stop': 'stopVm',
  'vms.pause': 'pauseVm',
  'vms.resume': 'resumeVm',
  'vms.reset': 'resetVm',
  'vms.suspend': 'suspendVm',
  'vms.clone': 'cloneVm',
  'vms.screenshot': 'screenshotVm',
  'vms.sendKeys': 'sendKeys',
  'vms.input': 'sendInput',
  'vms.sendSerial': 'sendSerial',
  'snapshots.list': 'listSnapshots',
  'snapshots.thumbnail': 'snapshotThumbnail',
  'snapshots.take': 'takeSnapshot',
  'snapshots.revert': 'revertSnapshot',
  'snapshots.delete': 'deleteSnapshot',
  'snapshots.rename': 'renameSnapshot',
  'settings.get': 'getSettings',
  'settings.update': 'updateSettings',
  'jobs.list': 'listJobs',
  'jobs.cancel': 'cancelJob',
} as const satisfies { readonly [C in RequestChannel]: string };

/** Every channel, for the allow-lists in the preload, main and serve. */
export const requestChannels = Object.keys(requestFunctionNames) as readonly RequestChannel[];

export function isRequestChannel(name: unknown): name is RequestChannel {
  return typeof name === 'string' && Object.hasOwn(requestFunctionNames, name);
}

// ---- subscriptions --------------------------------------------------------------------------

/** How a subscription ended (other than by its subscriber). */
export interface SubscriptionEnd {
  /** 'vm-stopped': the VM powered off or failed (`lastExit` says how); 'error': see `error`. */
  reason: 'vm-stopped' | 'error';
  lastExit?: VmLastExit;
  error?: WireError['error'];
}

export interface SubscriptionMap {
  /**
   * The library and every VM's run state: the current list at once, then again whenever it
   * changes (a VM made, changed or deleted; started, paused, resumed, stopped, crashed).
   */
  'vms.changed': { params: undefined; event: VmList; send: never };
  /**
   * What the guest writes to its serial console (COM1), as bytes. With `history`, first the
   * last 64 KiB it wrote before the subscription. Sending: bytes for the guest (serve only;
   * the preload sends input with `vms.sendSerial`).
   */
  'vm.serial': { params: VmRef & { history?: boolean }; event: Uint8Array; send: Uint8Array };
  /**
   * The VM's screen as display-stream messages (docs/display-stream.md): MODE, then FRAMEs.
   * Sending: an ACK (encodeAck) after each message is handled, which paces the stream.
   */
  'vm.display': { params: VmRef; event: ArrayBuffer; send: ArrayBuffer };
  /**
   * A running VM's long operations (a snapshot with memory, a suspend), whoever started
   * them: RAM bytes saved so far of the total, as the VM host reports them. Ends with the VM.
   */
  'vm.progress': { params: VmRef; event: VmProgress; send: never };
  /** Every job (as `jobs.list`): at once, then after changes (coalesced). */
  'jobs.changed': { params: undefined; event: Job[]; send: never };
}

export type SubscriptionChannel = keyof SubscriptionMap;
export type SubscriptionParamsOf<S extends SubscriptionChannel> = SubscriptionMap[S]['params'];
export type EventOf<S extends SubscriptionChannel> = SubscriptionMap[S]['event'];

/** The preload function for each subscription. */
export const subscriptionFunctionNames = {
  'vms.changed': 'onVmsChanged',
  'vm.serial': 'onVmSerial',
  'vm.display': 'openVmDisplay',
  'vm.progress': 'onVmProgress',
  'jobs.changed': 'onJobsChanged',
} as const satisfies { readonly [S in SubscriptionChannel]: string };

export const subscriptionChannels = Object.keys(
  subscriptionFunctionNames,
) as readonly SubscriptionChannel[];

export function isSubscriptionChannel(name: unknown): name is SubscriptionChannel {
  return typeof name === 'string' && Object.hasOwn(subscriptionFunctionNames, name);
}

// ---- the preload's API ----------------------------------------------------------------------

type RequestFunction<C extends RequestChannel> =
  RequestOf<C> extends undefined
    ? () => Promise<ResponseOf<C>>
    : (request: RequestOf<C>) => Promise<ResponseOf<C>>;

/** What a preload subscription calls; both optional members are called at most as described. */
export interface PreloadSubscriber<S extends SubscriptionChannel> {
  /** Each event (not used by 'vm.display', whose messages come through its MessagePort). */
  event?(data: EventOf<S>): void;
  /** 'vm.display' only: the port follows as a window message (see DisplayPortMessage). */
  ready?(subscription: number): void;
  /** Once, when the subscription ends without being unsubscribed (never after unsubscribe). */
  end?(end: SubscriptionEnd): void;
}

type SubscribeFunction<S extends SubscriptionChannel> =
  SubscriptionParamsOf<S> extends undefined
    ? (subscriber: PreloadSubscriber<S>) => () => void
    : (params: SubscriptionParamsOf<S>, subscriber: PreloadSubscriber<S>) => () => void;

/** What the preload puts on `window.nestbox`: one function per message and per subscription. */
export type PreloadApi = {
  readonly [C in RequestChannel as (typeof requestFunctionNames)[C]]: RequestFunction<C>;
} & {
  readonly [
    S in SubscriptionChannel as (typeof subscriptionFunctionNames)[S]
  ]: SubscribeFunction<S>;
};

/**
 * The window message that hands the page a display subscription's MessagePort (ports cannot
 * cross contextBridge): `window.postMessage(message, location.origin, [port])`, sent by the
 * preload right after it called `ready(subscription)`.
 */
export interface DisplayPortMessage {
  type: 'nestbox:vm.display-port';
  subscription: number;
}

/** Electron IPC channel names other than the request channels (allow-listed in the preload). */
export const ipcChannels = {
  /** invoke({subscription, channel, params}): starts a subscription; the id is the preload's. */
  subscribe: 'subscription.open',
  /** invoke({subscription}): ends it. */
  unsubscribe: 'subscription.close',
  /** main → renderer (subscription, end): a subscription ended on its own. */
  ended: 'subscription.end',
  /** main → renderer (subscription, data): events, one channel per subscription kind. */
  events: {
    'vms.changed': 'vms.changed',
    'vm.serial': 'vm.serial',
    /** Carries only the MessagePort ({subscription}, [port]); frames go through the port. */
    'vm.display': 'vm.display',
    'vm.progress': 'vm.progress',
    'jobs.changed': 'jobs.changed',
  },
} as const satisfies {
  subscribe: string;
  unsubscribe: string;
  ended: string;
  events: { readonly [S in SubscriptionChannel]: string };
};

/** A failed request as it crosses any transport. */
export interface WireError {
  error: {
    message: string;
    code?: string;
    /** A request that failed validation: each bad field with its path. */
    issues?: ValidationIssueData[];
  };
}
