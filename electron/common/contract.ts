/**
 * The one IPC contract between the renderer and the services, whatever carries it
 * (Electron's preload or `nestbox serve` over HTTP + WebSocket). Main, preload, serve
 * and the renderer all import these types; the renderer imports types only.
 *
 * Requests are request/response pairs keyed by a channel name. The preload exposes
 * one function per channel; `nestbox serve` exposes each as `POST /api/<channel>`.
 */
import type { HostInfo } from './host-info.ts';
import type { VmList } from './vm-list.ts';

export interface RequestMap {
  /** Machine facts and whether /dev/kvm is usable. */
  'host.info': { request: undefined; response: HostInfo };
  /** Every VM of the library with whether it runs, and the folders that are not usable VMs. */
  'vms.list': { request: undefined; response: VmList };
}

export type RequestChannel = keyof RequestMap;
export type RequestOf<C extends RequestChannel> = RequestMap[C]['request'];
export type ResponseOf<C extends RequestChannel> = RequestMap[C]['response'];

/** Every channel, for the allow-lists in the preload, main and serve. */
export const requestChannels = [
  'host.info',
  'vms.list',
] as const satisfies readonly RequestChannel[];

export function isRequestChannel(name: unknown): name is RequestChannel {
  return typeof name === 'string' && (requestChannels as readonly string[]).includes(name);
}

/** What the preload puts on `window.nestbox`: one function per message. */
export interface PreloadApi {
  hostInfo(): Promise<HostInfo>;
  listVms(): Promise<VmList>;
}

/** A failed request as it crosses any transport. */
export interface WireError {
  error: { message: string; code?: string };
}
