/**
 * The sandboxed preload (bundled to dist/electron/preload.cjs): puts `window.nestbox` in the
 * page, one function per contract message. The page never gets ipcRenderer itself, so it can
 * send nothing but these messages, whatever script ends up running in it.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { PreloadApi, RequestChannel, RequestOf, ResponseOf } from '../common/contract.ts';

/** Typed from the contract: channels whose request is `void` take no argument. */
function invoke<C extends RequestChannel>(
  channel: C,
  // The contract spells "no request" as `void`; this maps it to an empty argument list.
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
  ...request: RequestOf<C> extends void ? [] : [RequestOf<C>]
): Promise<ResponseOf<C>> {
  return ipcRenderer.invoke(channel, ...request) as Promise<ResponseOf<C>>;
}

const api: PreloadApi = {
  hostInfo: () => invoke('host.info'),
  listVms: () => invoke('vms.list'),
};

contextBridge.exposeInMainWorld('nestbox', api);
