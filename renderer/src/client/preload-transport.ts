import type { PreloadApi, RequestChannel, RequestOf, ResponseOf } from './contract.ts';
import { NestboxClientError, parseWireError } from './client-error.ts';
import type { Transport } from './nestbox-client.ts';

/** How each channel maps onto the preload's one-function-per-message API. */
const preloadCalls: {
  [C in RequestChannel]: (api: PreloadApi, request: RequestOf<C>) => Promise<ResponseOf<C>>;
} = {
  'host.info': (api) => api.hostInfo(),
  'vms.list': (api) => api.listVms(),
};

// ipcRenderer.invoke wraps every rejection as "Error invoking remote method 'x': Error: …".
const IPC_WRAPPER = /^Error invoking remote method '[^']*': (?:[A-Za-z]*Error: )?/;

function toClientError(error: unknown): NestboxClientError {
  if (error instanceof NestboxClientError) return error;
  const wire = parseWireError(error);
  if (wire)
    return new NestboxClientError('remote', wire.message, { code: wire.code, cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new NestboxClientError('remote', message.replace(IPC_WRAPPER, ''), { cause: error });
}

/** Inside Electron: requests go through `window.nestbox`, set up by the preload. */
export function createPreloadTransport(api: PreloadApi): Transport {
  return {
    kind: 'preload',
    async request<C extends RequestChannel>(channel: C, request: RequestOf<C>) {
      try {
        return await preloadCalls[channel](api, request);
      } catch (error) {
        throw toClientError(error);
      }
    },
  };
}
