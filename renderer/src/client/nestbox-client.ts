import type { RequestChannel, RequestOf, ResponseOf } from './contract.ts';

/** Carries one request of the contract to the services and brings back its response. */
export interface Transport {
  /** 'preload' inside Electron, 'http' when the page comes from `nestbox serve`. */
  readonly kind: 'preload' | 'http';
  request<C extends RequestChannel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
}

/**
 * Everything the UI may ask of the services: one method per channel of the contract's
 * RequestMap, whatever transport carries it. Components receive it from ClientProvider,
 * so tests hand them a fake.
 */
export interface NestboxClient {
  readonly transport: Transport['kind'];
  /** Machine facts and whether /dev/kvm is usable (`host.info`). */
  hostInfo(): Promise<ResponseOf<'host.info'>>;
  /** The VM library with each VM's state (`vms.list`). */
  listVms(): Promise<ResponseOf<'vms.list'>>;
}

export function createNestboxClient(transport: Transport): NestboxClient {
  return {
    transport: transport.kind,
    hostInfo: () => transport.request('host.info', undefined),
    listVms: () => transport.request('vms.list', undefined),
  };
}
