/**
 * The app's one place that turns the NestboxClient into what each feature asks for. Features
 * depend on their own small interfaces (LibraryApi, NewVmApi, …), never on the client, so
 * tests hand them fakes and a new channel is wired here in one line.
 */
import type { NestboxClient } from '../client/nestbox-client.ts';
import type { CloneApi } from '../features/clone/api/clone-api.ts';
import type { ConsoleApi } from '../features/console/api/console-api.ts';
import type { JobsApi } from '../features/jobs/api/jobs-api.ts';
import type { LibraryApi } from '../features/library/api/library-api.ts';
import type { PreferencesApi } from '../features/preferences/api/preferences-api.ts';
import type { SnapshotsApi } from '../features/snapshots/api/snapshots-api.ts';
import type { NewVmApi, VmSettingsApi } from '../features/vm-config/api/vm-config-api.ts';
import type { DisplayConnection } from '../features/display/display-connection.ts';
import { createDisplayConnection } from './display-connection.ts';
import { sendSerialText } from './serial-input.ts';
import { describeSubscriptionEnd } from './subscription-end.ts';

export interface AppServices {
  library: LibraryApi;
  /** Left out, the screens that need them are too (no dead links). */
  newVm?: NewVmApi;
  vmSettings?: VmSettingsApi;
  preferences?: PreferencesApi;
  snapshots?: SnapshotsApi;
  clone?: CloneApi;
  console?: ConsoleApi;
  /** Long operations with progress and cancel (the header's jobs indicator). */
  jobs?: JobsApi;
  /** A VM's live screen; the caller closes it. */
  openDisplay?: (vmId: string) => DisplayConnection & { close(): void };
  /** Makes a ready-made demo VM (not offered by the services yet). */
  tryDemo?: () => Promise<void>;
}

const dataUrl = (image: { mimeType: string; base64: string }) =>
  `data:${image.mimeType};base64,${image.base64}`;

export function servicesFromClient(client: NestboxClient): AppServices {
  // `vm.progress` ends on its own when the VM has nothing to report: nothing to tell anyone.
  const watchProgress = (id: string, onProgress: Parameters<NestboxClient['onVmProgress']>[1]) =>
    client.onVmProgress({ id }, onProgress);
  return {
    library: {
      listVms: () => client.listVms(),
      watchVms: (onList, onError) => {
        let watching = true;
        const stop = client.onVmsChanged(onList, (end) => {
          if (end.reason !== 'error') return;
          const lost = new Error(end.error?.message ?? 'The VM list stopped updating.');
          // A WebSocket refused at the upgrade cannot say why (a missing access token looks
          // like a lost connection); a plain request can. Ask once, and report its reason.
          client.listVms().then(
            (list) => {
              if (!watching) return;
              onList(list);
              onError(lost);
            },
            (reason: unknown) => {
              if (watching) onError(reason instanceof Error ? reason : lost);
            },
          );
        });
        return () => {
          watching = false;
          stop();
        };
      },
      getVm: (id) => client.getVm({ id }),
      power: {
        start: (id) => client.startVm({ id }),
        shutdown: (id) => client.stopVm({ id }),
        powerOff: (id) => client.stopVm({ id, force: true }),
        pause: (id) => client.pauseVm({ id }),
        resume: (id) => client.resumeVm({ id }),
        suspend: (id) => client.suspendVm({ id }),
        reset: (id) => client.resetVm({ id }),
      },
      discardSavedState: (id) => client.startVm({ id, discardSuspended: true }),
      watchProgress,
      screenshot: async (id) => dataUrl(await client.screenshotVm({ id })),
      deleteVm: (target) => client.deleteVm(target),
      demoGuest: async () => (await client.hostInfo()).demoGuest ?? null,
      createVm: (request) => client.createVm(request),
      importVm: (folder) => client.importVm({ folder }),
    },
    newVm: {
      createVm: (request) => client.createVm(request),
      hostInfo: () => client.hostInfo(),
    },
    vmSettings: {
      getVm: (id) => client.getVm({ id }),
      updateVm: (id, patch) => client.updateVm({ id, patch }),
      hostInfo: () => client.hostInfo(),
    },
    preferences: {
      getSettings: () => client.getSettings(),
      updateSettings: (patch) => client.updateSettings(patch),
    },
    snapshots: {
      list: (id) => client.listSnapshots({ id }),
      thumbnail: async (id, snapshot) => dataUrl(await client.snapshotThumbnail({ id, snapshot })),
      take: (id, { name, description }) =>
        client.takeSnapshot({ id, name, ...(description !== undefined ? { description } : {}) }),
      revert: (id, snapshot) => client.revertSnapshot({ id, snapshot }),
      remove: (id, snapshot) => client.deleteSnapshot({ id, snapshot }),
      rename: (id, snapshot, name) => client.renameSnapshot({ id, snapshot, name }),
      watchProgress,
    },
    clone: {
      cloneVm: (id, { name, linked, snapshot }) =>
        client.cloneVm({
          id,
          name,
          ...(linked ? { linked } : {}),
          ...(snapshot !== undefined ? { snapshot } : {}),
        }),
    },
    console: {
      open: (id, handlers) =>
        client.openConsole(
          { id, history: true },
          { data: handlers.data, end: (end) => handlers.end(describeSubscriptionEnd(end)) },
        ),
      paste: (id, text) => sendSerialText(client, id, text),
    },
    jobs: {
      watchJobs: (onJobs, onError) =>
        client.onJobsChanged(onJobs, (end) => {
          if (end.reason === 'error') {
            onError?.(new Error(end.error?.message ?? 'Operations stopped updating.'));
          }
        }),
      cancelJob: (id) => client.cancelJob({ id }),
    },
    openDisplay: (vmId) => createDisplayConnection(client, vmId),
  };
}
