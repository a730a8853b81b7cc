import { decodeIpcError } from '../../../electron/common/ipc-error.ts';
import type {
  DisplayPortMessage,
  PreloadApi,
  PreloadSubscriber,
  RequestChannel,
  RequestOf,
  ResponseOf,
  SubscriptionChannel,
  SubscriptionParamsOf,
} from './contract.ts';
import { NestboxClientError, parseWireError } from './client-error.ts';
import type { SubscriptionHandlers, Transport, TransportSubscription } from './nestbox-client.ts';

/** How each channel maps onto the preload's one-function-per-message API. */
const preloadCalls: {
  [C in RequestChannel]: (api: PreloadApi, request: RequestOf<C>) => Promise<ResponseOf<C>>;
} = {
  'host.info': (api) => api.hostInfo(),
  'vms.list': (api) => api.listVms(),
  'vms.get': (api, request) => api.getVm(request),
  'vms.create': (api, request) => api.createVm(request),
  'vms.import': (api, request) => api.importVm(request),
  'vms.update': (api, request) => api.updateVm(request),
  'vms.rename': (api, request) => api.renameVm(request),
  'vms.delete': (api, request) => api.deleteVm(request),
  'vms.start': (api, request) => api.startVm(request),
  'vms.stop': (api, request) => api.stopVm(request),
  'vms.pause': (api, request) => api.pauseVm(request),
  'vms.resume': (api, request) => api.resumeVm(request),
  'vms.reset': (api, request) => api.resetVm(request),
  'vms.suspend': (api, request) => api.suspendVm(request),
  'vms.clone': (api, request) => api.cloneVm(request),
  'vms.screenshot': (api, request) => api.screenshotVm(request),
  'vms.sendKeys': (api, request) => api.sendKeys(request),
  'vms.input': (api, request) => api.sendInput(request),
  'vms.sendSerial': (api, request) => api.sendSerial(request),
  'snapshots.list': (api, request) => api.listSnapshots(request),
  'snapshots.thumbnail': (api, request) => api.snapshotThumbnail(request),
  'snapshots.take': (api, request) => api.takeSnapshot(request),
  'snapshots.revert': (api, request) => api.revertSnapshot(request),
  'snapshots.delete': (api, request) => api.deleteSnapshot(request),
  'snapshots.rename': (api, request) => api.renameSnapshot(request),
  'settings.get': (api) => api.getSettings(),
  'settings.update': (api, request) => api.updateSettings(request),
  'jobs.list': (api) => api.listJobs(),
  'jobs.cancel': (api, request) => api.cancelJob(request),
};

// ipcRenderer.invoke wraps every rejection as "Error invoking remote method 'x': Error: …".
const IPC_WRAPPER = /^Error invoking remote method '[^']*': (?:[A-Za-z]*Error: )?/;

function toClientError(error: unknown): NestboxClientError {
  if (error instanceof NestboxClientError) return error;
  const wire = parseWireError(error);
  if (wire)
    return new NestboxClientError('remote', wire.message, { code: wire.code, cause: error });
  const message = error instanceof Error ? error.message : String(error);
  const carried = decodeIpcError(message);
  if (carried) {
    return new NestboxClientError('remote', carried.message, {
      code: carried.code,
      issues: carried.issues,
      cause: error,
    });
  }
  return new NestboxClientError('remote', message.replace(IPC_WRAPPER, ''), { cause: error });
}

/** Bytes as base64, for `vms.sendSerial` (serial input in Electron goes as a request). */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The page's window as the display subscription uses it (tests pass their own). */
export type PortWindow = Pick<Window, 'addEventListener' | 'removeEventListener'> & {
  location: Pick<Location, 'origin'>;
};

/** Inside Electron: requests and subscriptions go through `window.nestbox`, set up by the preload. */
export function createPreloadTransport(api: PreloadApi, win: PortWindow = window): Transport {
  /**
   * A display subscription: the preload says which window message will carry its MessagePort
   * (`ready`), then posts it; frames and ACKs go through the port from then on.
   */
  function subscribeDisplay(
    params: SubscriptionParamsOf<'vm.display'>,
    handlers: SubscriptionHandlers<'vm.display'>,
  ): TransportSubscription<'vm.display'> {
    let port: MessagePort | undefined;
    let closed = false;
    let stopWaiting = () => {};
    const unsubscribe = api.openVmDisplay(params, {
      ready(subscription) {
        const onMessage = (event: MessageEvent) => {
          const data = event.data as Partial<DisplayPortMessage> | null;
          if (event.origin !== win.location.origin) return;
          if (data?.type !== 'nestbox:vm.display-port' || data.subscription !== subscription)
            return;
          stopWaiting();
          const received = event.ports[0];
          if (!received) return;
          if (closed) {
            received.close();
            return;
          }
          port = received;
          port.onmessage = (message) => {
            if (message.data instanceof ArrayBuffer) handlers.event(message.data);
          };
          port.start();
        };
        win.addEventListener('message', onMessage);
        stopWaiting = () => win.removeEventListener('message', onMessage);
      },
      end(end) {
        stopWaiting();
        port?.close();
        if (!closed) handlers.end(end);
      },
    });
    return {
      async send(ack) {
        port?.postMessage(ack);
      },
      close() {
        if (closed) return;
        closed = true;
        stopWaiting();
        port?.close();
        unsubscribe();
      },
    };
  }

  return {
    kind: 'preload',
    async request<C extends RequestChannel>(channel: C, request: RequestOf<C>) {
      try {
        return await preloadCalls[channel](api, request);
      } catch (error) {
        throw toClientError(error);
      }
    },
    subscribe<S extends SubscriptionChannel>(
      channel: S,
      params: SubscriptionParamsOf<S>,
      handlers: SubscriptionHandlers<S>,
    ): TransportSubscription<S> {
      if (channel === 'vm.display') {
        return subscribeDisplay(
          params as SubscriptionParamsOf<'vm.display'>,
          handlers as unknown as SubscriptionHandlers<'vm.display'>,
        ) as unknown as TransportSubscription<S>;
      }
      let closed = false;
      const subscriber: PreloadSubscriber<S> = {
        event: (data) => {
          if (!closed) handlers.event(data);
        },
        end: (end) => {
          if (!closed) handlers.end(end);
        },
      };
      const unsubscribe =
        channel === 'vms.changed'
          ? api.onVmsChanged(subscriber as PreloadSubscriber<'vms.changed'>)
          : channel === 'vm.progress'
            ? api.onVmProgress(
                params as SubscriptionParamsOf<'vm.progress'>,
                subscriber as PreloadSubscriber<'vm.progress'>,
              )
            : channel === 'jobs.changed'
              ? api.onJobsChanged(subscriber as PreloadSubscriber<'jobs.changed'>)
              : api.onVmSerial(
                  params as SubscriptionParamsOf<'vm.serial'>,
                  subscriber as PreloadSubscriber<'vm.serial'>,
                );
      const id = (params as { id?: string } | undefined)?.id ?? '';
      return {
        async send(data) {
          // Only the console sends: its input is a request in Electron.
          if (channel !== 'vm.serial') return;
          try {
            await api.sendSerial({ id, base64: toBase64(data as Uint8Array) });
          } catch (error) {
            throw toClientError(error);
          }
        },
        close() {
          closed = true;
          unsubscribe();
        },
      };
    },
  };
}
