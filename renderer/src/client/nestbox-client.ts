import type {
  EventOf,
  Job,
  requestFunctionNames,
  RequestChannel,
  RequestOf,
  ResponseOf,
  SubscriptionChannel,
  SubscriptionEnd,
  SubscriptionMap,
  SubscriptionParamsOf,
  VmList,
  VmProgress,
} from './contract.ts';

/** What a transport calls for one subscription. */
export interface SubscriptionHandlers<S extends SubscriptionChannel> {
  event(data: EventOf<S>): void;
  /** Once, when it ends on its own (the VM stopped, the connection dropped); not after close(). */
  end(end: SubscriptionEnd): void;
}

export interface TransportSubscription<S extends SubscriptionChannel> {
  /** Serial input, display ACKs. Resolves once handed on; rejects with NestboxClientError. */
  send(data: SubscriptionMap[S]['send']): Promise<void>;
  close(): void;
}

/** Carries the contract's requests and subscriptions to the services and back. */
export interface Transport {
  /** 'preload' inside Electron, 'http' when the page comes from `nestbox serve`. */
  readonly kind: 'preload' | 'http';
  request<C extends RequestChannel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
  subscribe<S extends SubscriptionChannel>(
    channel: S,
    params: SubscriptionParamsOf<S>,
    handlers: SubscriptionHandlers<S>,
  ): TransportSubscription<S>;
}

type RequestMethod<C extends RequestChannel> =
  RequestOf<C> extends undefined
    ? () => Promise<ResponseOf<C>>
    : (request: RequestOf<C>) => Promise<ResponseOf<C>>;

/** One method per request channel, named as the preload names its function (`vms.get`: getVm). */
export type RequestMethods = {
  readonly [C in RequestChannel as (typeof requestFunctionNames)[C]]: RequestMethod<C>;
};

/** Each method's channel. Typed from the contract: a channel added there fails to compile here. */
const channelOfMethod: { [C in RequestChannel as (typeof requestFunctionNames)[C]]: C } = {
  hostInfo: 'host.info',
  listVms: 'vms.list',
  getVm: 'vms.get',
  createVm: 'vms.create',
  importVm: 'vms.import',
  updateVm: 'vms.update',
  renameVm: 'vms.rename',
  deleteVm: 'vms.delete',
  startVm: 'vms.start',
  stopVm: 'vms.stop',
  pauseVm: 'vms.pause',
  resumeVm: 'vms.resume',
  resetVm: 'vms.reset',
  suspendVm: 'vms.suspend',
  cloneVm: 'vms.clone',
  screenshotVm: 'vms.screenshot',
  sendKeys: 'vms.sendKeys',
  sendInput: 'vms.input',
  sendSerial: 'vms.sendSerial',
  listSnapshots: 'snapshots.list',
  snapshotThumbnail: 'snapshots.thumbnail',
  takeSnapshot: 'snapshots.take',
  revertSnapshot: 'snapshots.revert',
  deleteSnapshot: 'snapshots.delete',
  renameSnapshot: 'snapshots.rename',
  getSettings: 'settings.get',
  updateSettings: 'settings.update',
  listJobs: 'jobs.list',
  cancelJob: 'jobs.cancel',
};

/** A VM's serial console: output arrives through the handlers given to openConsole. */
export interface VmConsole {
  /** Text (sent as UTF-8) or bytes for the guest; in order. */
  write(data: string | Uint8Array): Promise<void>;
  close(): void;
}

/** A VM's screen: display-stream messages arrive through the handlers given to openDisplay. */
export interface VmDisplayConnection {
  /** An ACK (encodeAck(sequence)) once a message is painted: it paces the stream. */
  acknowledge(ack: ArrayBuffer): void;
  close(): void;
}

/**
 * Everything the UI may ask of the services: one method per channel of the contract's
 * RequestMap, and one per subscription, whatever transport carries them. Components receive
 * it from ClientProvider, so tests hand them a fake.
 */
export interface NestboxClient extends RequestMethods {
  readonly transport: Transport['kind'];
  /** The VM list now and after every change (`vms.changed`). Returns the unsubscribe. */
  onVmsChanged(
    listener: (list: VmList) => void,
    onEnd?: (end: SubscriptionEnd) => void,
  ): () => void;
  /** A VM's serial console (`vm.serial`); `history`: first what it printed before. */
  openConsole(
    params: SubscriptionParamsOf<'vm.serial'>,
    handlers: { data(bytes: Uint8Array): void; end?(end: SubscriptionEnd): void },
  ): VmConsole;
  /** A VM's screen (`vm.display`): MODE, then FRAMEs; acknowledge each (docs/display-stream.md). */
  openDisplay(
    params: SubscriptionParamsOf<'vm.display'>,
    handlers: { message(data: ArrayBuffer): void; end?(end: SubscriptionEnd): void },
  ): VmDisplayConnection;
  /**
   * A running VM's long operations (`vm.progress`): a snapshot with memory, a suspend.
   * Ends with the VM (or at once with `not-running`). Returns the unsubscribe.
   */
  onVmProgress(
    params: SubscriptionParamsOf<'vm.progress'>,
    listener: (progress: VmProgress) => void,
    onEnd?: (end: SubscriptionEnd) => void,
  ): () => void;
  /** Every job now and after changes (`jobs.changed`, coalesced). Returns the unsubscribe. */
  onJobsChanged(
    listener: (jobs: Job[]) => void,
    onEnd?: (end: SubscriptionEnd) => void,
  ): () => void;
}

const utf8 = new TextEncoder();

export function createNestboxClient(transport: Transport): NestboxClient {
  const methods = Object.fromEntries(
    Object.entries(channelOfMethod).map(([method, channel]) => [
      method,
      (request?: unknown) => transport.request(channel, request as never),
    ]),
  ) as unknown as RequestMethods;
  return {
    transport: transport.kind,
    ...methods,
    onVmsChanged(listener, onEnd) {
      const subscription = transport.subscribe('vms.changed', undefined, {
        event: listener,
        end: (end) => onEnd?.(end),
      });
      return () => subscription.close();
    },
    openConsole(params, handlers) {
      const subscription = transport.subscribe('vm.serial', params, {
        event: (bytes) => handlers.data(bytes),
        end: (end) => handlers.end?.(end),
      });
      return {
        write: (data) => subscription.send(typeof data === 'string' ? utf8.encode(data) : data),
        close: () => subscription.close(),
      };
    },
    openDisplay(params, handlers) {
      const subscription = transport.subscribe('vm.display', params, {
        event: (message) => handlers.message(message),
        end: (end) => handlers.end?.(end),
      });
      return {
        acknowledge: (ack) => void subscription.send(ack).catch(() => undefined),
        close: () => subscription.close(),
      };
    },
    onVmProgress(params, listener, onEnd) {
      const subscription = transport.subscribe('vm.progress', params, {
        event: listener,
        end: (end) => onEnd?.(end),
      });
      return () => subscription.close();
    },
    onJobsChanged(listener, onEnd) {
      const subscription = transport.subscribe('jobs.changed', undefined, {
        event: listener,
        end: (end) => onEnd?.(end),
      });
      return () => subscription.close();
    },
  };
}
