/**
 * The one table from contract channel to service function. Electron main's `ipcMain.handle`
 * wiring and `nestbox serve`'s `POST /api/<channel>` both dispatch through it, so the two
 * transports cannot drift: a channel added to the contract fails to compile until it has a
 * request parser and a handler here. The same goes for subscriptions
 * (request-handlers-events.ts).
 */
import type { RequestChannel, RequestOf, ResponseOf } from '../common/contract.ts';
import { getHostInfo, type KvmProber } from './host-info.ts';
import { JobRegistry } from './jobs/job-registry.ts';
import { parseJobCancelRequest } from './jobs/job-validation.ts';
import type { CreateDiskImage } from './library/vm-library.ts';
import type { NativeAddon } from './native/native-addon.ts';
import { RequestError } from './request-error.ts';
import { HostConnections, toRequestError } from './request-handlers-connections.ts';
import {
  VmChangeFeed,
  createSubscriptionHandlers,
  type SubscriptionHandlers,
  type VmChangeFeedOptions,
} from './request-handlers-events.ts';
import * as snapshots from './request-handlers-snapshots.ts';
import {
  parseCloneRequest,
  parseCreateRequest,
  parseDeleteRequest,
  parseEmptyRequest,
  parseImportRequest,
  parseInputRequest,
  parseRenameRequest,
  parseSendKeysRequest,
  parseSendSerialRequest,
  parseSerialParams,
  parseSettingsPatch,
  parseSnapshotRef,
  parseSnapshotRenameRequest,
  parseSnapshotTakeRequest,
  parseStartRequest,
  parseStopRequest,
  parseUpdateRequest,
  parseVmRef,
} from './request-handlers-validation.ts';
import * as vms from './request-handlers-vms.ts';
import { SettingsStore, settingsFilePath } from './settings/settings-store.ts';
import { listVms, openVmServices, type VmServices } from './vm-host/vm-services.ts';

export interface ServiceDependencies {
  appVersion: string;
  /**
   * Loads the native core. Called on first use, not at start, so a missing or broken addon
   * becomes a clear error on the request that needs it rather than an app that never opens.
   * `imageCreate` makes new disks for `vms.create`; snapshots and clones need the whole
   * NativeAddon (its disk-image functions), which the real addon is.
   */
  loadNativeAddon: () => KvmProber & { imageCreate?: CreateDiskImage };
  /** Where the library, settings and VM hosts are found; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The VM library and hosts; default: as `env` places them. */
  openVmServices?: () => Promise<VmServices>;
  /** For tests: how `vms.changed` polls. */
  changeFeed?: VmChangeFeedOptions;
}

interface ChannelHandler<C extends RequestChannel> {
  /** Validates an untrusted payload from the renderer or the network. */
  parseRequest(payload: unknown): RequestOf<C>;
  handle(request: RequestOf<C>): Promise<ResponseOf<C>>;
}

export type RequestHandlers = { readonly [C in RequestChannel]: ChannelHandler<C> };

/** Everything the transports serve: requests, subscriptions, and the connections they hold. */
export interface AppServices {
  handlers: RequestHandlers;
  subscriptions: SubscriptionHandlers;
  /** The long operations of these services (jobs.list, jobs.cancel, jobs.changed). */
  jobs: JobRegistry;
  /** Stops polling and closes every connection to VM hosts (the VMs keep running). */
  close(): void;
}

function memoizeAddon(
  load: ServiceDependencies['loadNativeAddon'],
): ServiceDependencies['loadNativeAddon'] {
  let addon: ReturnType<typeof load> | undefined;
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

/** A handler whose success means the VM list may have changed. */
function changing<C extends RequestChannel>(
  handler: ChannelHandler<C>,
  feed: VmChangeFeed,
): ChannelHandler<C> {
  return {
    parseRequest: handler.parseRequest,
    async handle(request) {
      try {
        return await handler.handle(request);
      } finally {
        feed.poke();
      }
    },
  };
}

export function createAppServices(deps: ServiceDependencies): AppServices {
  const addon = memoizeAddon(deps.loadNativeAddon);
  const env = deps.env ?? process.env;
  const createDiskImage: CreateDiskImage = (file, options) => {
    const imageCreate = addon().imageCreate;
    if (!imageCreate) throw new Error('this build of the native core cannot make disk images');
    return imageCreate(file, options);
  };
  /** The whole native core, for snapshots and clones. */
  const nativeAddon = (): NativeAddon => {
    const loaded = addon() as Partial<NativeAddon>;
    const needed = ['imageCreate', 'imageInfo', 'openDiskImage', 'describeSnapshot'] as const;
    const absent = needed.filter((name) => typeof loaded[name] !== 'function');
    if (absent.length > 0) {
      throw new RequestError(
        'native-core-unavailable',
        `This build of Nestbox's native core cannot work with snapshots (it has no ${absent.join(', ')}). ` +
          'Reinstall Nestbox, or run `npm run build` in a source checkout.',
      );
    }
    return loaded as NativeAddon;
  };
  // Opened per request: the library root follows the vmFolder setting as it is now.
  const openServices = deps.openVmServices ?? (() => openVmServices({ env, createDiskImage }));
  const connections = new HostConnections();
  const feed = new VmChangeFeed(openServices, deps.changeFeed);
  const settings = new SettingsStore({ filePath: settingsFilePath(env) });
  const jobs = new JobRegistry();

  /** A VM channel: parsed payload in, the action on this request's services. */
  function vmChannel<C extends RequestChannel>(
    parseRequest: (payload: unknown) => RequestOf<C>,
    act: (context: vms.VmActionContext, request: RequestOf<C>) => Promise<ResponseOf<C>>,
  ): ChannelHandler<C> {
    return changing(
      {
        parseRequest,
        handle: async (request) =>
          act({ services: await openServices(), connections, addon: nativeAddon, jobs }, request),
      },
      feed,
    );
  }
  /** A VM channel that changes nothing the list shows. */
  function vmQuery<C extends RequestChannel>(
    parseRequest: (payload: unknown) => RequestOf<C>,
    act: (context: vms.VmActionContext, request: RequestOf<C>) => Promise<ResponseOf<C>>,
  ): ChannelHandler<C> {
    return {
      parseRequest,
      handle: async (request) =>
        act({ services: await openServices(), connections, addon: nativeAddon, jobs }, request),
    };
  }

  const handlers: RequestHandlers = {
    'host.info': {
      parseRequest: parseEmptyRequest,
      handle: async () => getHostInfo(addon(), { appVersion: deps.appVersion }),
    },
    'vms.list': {
      parseRequest: parseEmptyRequest,
      handle: async () => listVms(await openServices()),
    },
    'vms.get': vmQuery(parseVmRef('vms.get'), vms.getVmDetails),
    'vms.create': vmChannel(parseCreateRequest, vms.createVm),
    'vms.import': vmChannel(parseImportRequest, vms.importVm),
    'vms.update': vmChannel(parseUpdateRequest, vms.updateVm),
    'vms.rename': vmChannel(parseRenameRequest, vms.renameVm),
    'vms.delete': vmChannel(parseDeleteRequest, vms.deleteVm),
    'vms.start': vmChannel(parseStartRequest, vms.startVm),
    'vms.stop': vmChannel(parseStopRequest, vms.stopVm),
    'vms.pause': vmChannel(parseVmRef('vms.pause'), vms.pauseVm),
    'vms.resume': vmChannel(parseVmRef('vms.resume'), vms.resumeVm),
    'vms.reset': vmChannel(parseVmRef('vms.reset'), vms.resetVm),
    'vms.suspend': vmChannel(parseVmRef('vms.suspend'), vms.suspendVm),
    'vms.clone': vmChannel(parseCloneRequest, vms.cloneVm),
    'vms.screenshot': vmQuery(parseVmRef('vms.screenshot'), vms.screenshotVm),
    'vms.sendKeys': vmQuery(parseSendKeysRequest, vms.sendKeys),
    'vms.input': vmQuery(parseInputRequest, vms.sendInput),
    'vms.sendSerial': vmQuery(parseSendSerialRequest, vms.sendSerial),
    'snapshots.list': vmQuery(parseVmRef('snapshots.list'), snapshots.listSnapshots),
    'snapshots.thumbnail': vmQuery(
      parseSnapshotRef('snapshots.thumbnail'),
      snapshots.snapshotThumbnail,
    ),
    // Changing: a revert can leave the VM off, suspended or running again.
    'snapshots.take': vmChannel(parseSnapshotTakeRequest, snapshots.takeSnapshot),
    'snapshots.revert': vmChannel(parseSnapshotRef('snapshots.revert'), snapshots.revertSnapshot),
    'snapshots.delete': vmChannel(parseSnapshotRef('snapshots.delete'), snapshots.deleteSnapshot),
    'snapshots.rename': vmChannel(parseSnapshotRenameRequest, snapshots.renameSnapshot),
    'settings.get': {
      parseRequest: parseEmptyRequest,
      handle: () => settings.load(),
    },
    'settings.update': changing(
      {
        parseRequest: parseSettingsPatch,
        async handle(patch) {
          try {
            return await settings.update(patch);
          } catch (error) {
            throw toRequestError(error);
          }
        },
      },
      // The library's folder is a setting.
      feed,
    ),
    'jobs.list': {
      parseRequest: parseEmptyRequest,
      handle: async () => jobs.list(),
    },
    'jobs.cancel': {
      parseRequest: parseJobCancelRequest,
      handle: async ({ id }) => jobs.cancel(id),
    },
  };

  const subscriptions = createSubscriptionHandlers(
    openServices,
    feed,
    {
      vmRef: parseVmRef('vm.display'),
      progress: parseVmRef('vm.progress'),
      serial: parseSerialParams,
      empty: parseEmptyRequest,
    },
    jobs,
  );
  const services: AppServices = {
    handlers,
    subscriptions,
    jobs,
    close() {
      feed.close();
      jobs.close();
      connections.close();
    },
  };
  servicesByHandlers.set(handlers, services);
  return services;
}

const servicesByHandlers = new WeakMap<RequestHandlers, AppServices>();

/** The request table alone (the subscriptions that go with it: `subscriptionsFor`). */
export function createRequestHandlers(deps: ServiceDependencies): RequestHandlers {
  return createAppServices(deps).handlers;
}

/** The subscriptions made together with `handlers` by createAppServices. */
export function subscriptionsFor(handlers: RequestHandlers): SubscriptionHandlers | undefined {
  return servicesByHandlers.get(handlers)?.subscriptions;
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
