/**
 * `window.nestbox`: one function per contract message and per subscription, built on the two
 * things the sandboxed preload has (ipcRenderer, and the page's window). Apart from preload.ts
 * so tests can build it with fakes: Electron itself cannot run on the build machines.
 *
 * Subscriptions: the preload picks the subscription's number and registers the subscriber
 * before asking main to start it, so no event can arrive before its listener. Main sends
 * events on one channel per subscription kind, tagged with that number, and
 * `subscription.end` when one ends on its own. A display's MessagePort is re-posted to the
 * page (ports cannot cross contextBridge) after `ready(subscription)` told the page which
 * message to expect.
 */
import {
  ipcChannels,
  type DisplayPortMessage,
  type PreloadApi,
  type PreloadSubscriber,
  type RequestChannel,
  type RequestOf,
  type ResponseOf,
  type SubscriptionChannel,
  type SubscriptionEnd,
  type SubscriptionParamsOf,
} from '../common/contract.ts';
import { decodeIpcError } from '../common/ipc-error.ts';

/** The parts of Electron's ipcRenderer used here. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(
    channel: string,
    listener: (event: { ports?: readonly unknown[] }, ...args: unknown[]) => void,
  ): unknown;
}

/** The page's window as the preload sees it. */
export interface PageWindowLike {
  readonly location: { readonly origin: string };
  postMessage(message: unknown, targetOrigin: string, transfer: unknown[]): void;
}

interface ClosablePort {
  close(): void;
}

export function createPreloadApi(ipc: IpcRendererLike, page: PageWindowLike): PreloadApi {
  /** Typed from the contract: channels whose request is `undefined` take no argument. */
  function invoke<C extends RequestChannel>(
    channel: C,
    ...request: RequestOf<C> extends undefined ? [] : [RequestOf<C>]
  ): Promise<ResponseOf<C>> {
    return ipc.invoke(channel, ...request) as Promise<ResponseOf<C>>;
  }

  const subscribers = new Map<number, PreloadSubscriber<SubscriptionChannel>>();
  let nextSubscription = 1;

  function subscribe<S extends SubscriptionChannel>(
    channel: S,
    params: SubscriptionParamsOf<S>,
    subscriber: PreloadSubscriber<S>,
  ): () => void {
    const subscription = nextSubscription++;
    subscribers.set(subscription, subscriber as PreloadSubscriber<SubscriptionChannel>);
    ipc.invoke(ipcChannels.subscribe, { subscription, channel, params }).catch((error: unknown) => {
      if (!subscribers.delete(subscription)) return;
      const message = error instanceof Error ? error.message : String(error);
      subscriber.end?.({
        reason: 'error',
        error: decodeIpcError(message) ?? { message, code: 'internal' },
      });
    });
    return () => {
      if (!subscribers.delete(subscription)) return;
      ipc.invoke(ipcChannels.unsubscribe, { subscription }).catch(() => undefined);
    };
  }

  const forward = (_event: unknown, subscription: unknown, data: unknown) => {
    if (typeof subscription === 'number') subscribers.get(subscription)?.event?.(data as never);
  };
  ipc.on(ipcChannels.events['vms.changed'], forward);
  ipc.on(ipcChannels.events['vm.serial'], forward);
  ipc.on(ipcChannels.events['vm.progress'], forward);
  ipc.on(ipcChannels.events['jobs.changed'], forward);
  ipc.on(ipcChannels.events['vm.display'], (event, message) => {
    const subscription = (message as { subscription?: unknown } | null)?.subscription;
    const port = event.ports?.[0] as ClosablePort | undefined;
    const subscriber = typeof subscription === 'number' ? subscribers.get(subscription) : undefined;
    if (!port) return;
    if (!subscriber || typeof subscription !== 'number') {
      port.close();
      return;
    }
    subscriber.ready?.(subscription);
    const handOver: DisplayPortMessage = { type: 'nestbox:vm.display-port', subscription };
    page.postMessage(handOver, page.location.origin, [port]);
  });
  ipc.on(ipcChannels.ended, (_event, subscription, end) => {
    if (typeof subscription !== 'number') return;
    const subscriber = subscribers.get(subscription);
    subscribers.delete(subscription);
    subscriber?.end?.(end as SubscriptionEnd);
  });

  return {
    hostInfo: () => invoke('host.info'),
    listVms: () => invoke('vms.list'),
    getVm: (request) => invoke('vms.get', request),
    createVm: (request) => invoke('vms.create', request),
    importVm: (request) => invoke('vms.import', request),
    updateVm: (request) => invoke('vms.update', request),
    renameVm: (request) => invoke('vms.rename', request),
    deleteVm: (request) => invoke('vms.delete', request),
    startVm: (request) => invoke('vms.start', request),
    stopVm: (request) => invoke('vms.stop', request),
    pauseVm: (request) => invoke('vms.pause', request),
    resumeVm: (request) => invoke('vms.resume', request),
    resetVm: (request) => invoke('vms.reset', request),
    suspendVm: (request) => invoke('vms.suspend', request),
    cloneVm: (request) => invoke('vms.clone', request),
    screenshotVm: (request) => invoke('vms.screenshot', request),
    sendKeys: (request) => invoke('vms.sendKeys', request),
    sendInput: (request) => invoke('vms.input', request),
    sendSerial: (request) => invoke('vms.sendSerial', request),
    listSnapshots: (request) => invoke('snapshots.list', request),
    snapshotThumbnail: (request) => invoke('snapshots.thumbnail', request),
    takeSnapshot: (request) => invoke('snapshots.take', request),
    revertSnapshot: (request) => invoke('snapshots.revert', request),
    deleteSnapshot: (request) => invoke('snapshots.delete', request),
    renameSnapshot: (request) => invoke('snapshots.rename', request),
    getSettings: () => invoke('settings.get'),
    updateSettings: (request) => invoke('settings.update', request),
    listJobs: () => invoke('jobs.list'),
    cancelJob: (request) => invoke('jobs.cancel', request),
    onVmsChanged: (subscriber) => subscribe('vms.changed', undefined, subscriber),
    onVmSerial: (params, subscriber) => subscribe('vm.serial', params, subscriber),
    openVmDisplay: (params, subscriber) => subscribe('vm.display', params, subscriber),
    onVmProgress: (params, subscriber) => subscribe('vm.progress', params, subscriber),
    onJobsChanged: (subscriber) => subscribe('jobs.changed', undefined, subscriber),
  };
}
