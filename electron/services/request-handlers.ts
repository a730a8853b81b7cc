/**
 * The one table from contract channel to service function. Electron main's `ipcMain.handle`
 * wiring and `nestbox serve`'s `POST /api/<channel>` both dispatch through it, so the two
 * transports cannot drift: a channel added to the contract fails to compile until it has a
 * request parser and a handler here.
 */
import type { RequestChannel, RequestOf, ResponseOf } from '../common/contract.ts';
import { getHostInfo, type KvmProber } from './host-info.ts';
import { RequestError } from './request-error.ts';
import { listVms, openVmServices, type VmServices } from './vm-host/vm-services.ts';

export interface ServiceDependencies {
  appVersion: string;
  /**
   * Loads the native core. Called on first use, not at start, so a missing or broken addon
   * becomes a clear error on the request that needs it rather than an app that never opens.
   */
  loadNativeAddon: () => KvmProber;
  /** The VM library and hosts; default: as this process's environment places them. */
  openVmServices?: () => Promise<VmServices>;
}

interface ChannelHandler<C extends RequestChannel> {
  /** Validates an untrusted payload from the renderer or the network. */
  parseRequest(payload: unknown): RequestOf<C>;
  handle(request: RequestOf<C>): Promise<ResponseOf<C>>;
}

export type RequestHandlers = { readonly [C in RequestChannel]: ChannelHandler<C> };

/**
 * Accepts "no payload" in each form the transports produce for it: `undefined` from
 * `ipcRenderer.invoke(channel)`, an empty body or `null`, and `{}` from generic HTTP clients.
 */
function parseEmptyRequest(payload: unknown): undefined {
  const isEmptyObject =
    typeof payload === 'object' &&
    payload !== null &&
    !Array.isArray(payload) &&
    Object.keys(payload).length === 0;
  if (payload === undefined || payload === null || isEmptyObject) return undefined;
  throw new RequestError('bad-request', 'This request takes no parameters.');
}

function memoizeAddon(load: () => KvmProber): () => KvmProber {
  let addon: KvmProber | undefined;
  return () => {
    if (addon) return addon;
    try {
      addon = load();
      return addon;
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new RequestError(
        'native-core-unavailable',
        `Nestbox's native core could not be loaded (${detail}). Reinstall Nestbox, or run ` +
          '`npm run build` in a source checkout.',
        { cause },
      );
    }
  };
}

export function createRequestHandlers(deps: ServiceDependencies): RequestHandlers {
  const addon = memoizeAddon(deps.loadNativeAddon);
  return {
    'host.info': {
      parseRequest: parseEmptyRequest,
      handle: async () => getHostInfo(addon(), { appVersion: deps.appVersion }),
    },
    'vms.list': {
      parseRequest: parseEmptyRequest,
      // Opened per request: the library root follows the vmFolder setting as it is now.
      handle: async () => listVms(await (deps.openVmServices ?? (() => openVmServices()))()),
    },
  };
}

/** Validates then handles one request; what both transports call. */
export async function dispatchRequest<C extends RequestChannel>(
  handlers: RequestHandlers,
  channel: C,
  payload: unknown,
): Promise<ResponseOf<C>> {
  const handler: ChannelHandler<C> = handlers[channel];
  return handler.handle(handler.parseRequest(payload));
}
