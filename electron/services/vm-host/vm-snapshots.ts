/**
 * Snapshot operations on a library VM, whoever asks (the CLI, `nestbox serve`, the app): a
 * running VM's tree belongs to its VM host, so the request goes there (a take then saves
 * memory too); a VM that is off has no host, and the operation runs here on the tree
 * directly (a take is then of the disks only).
 */
import { toMachineConfig } from '../library/machine-config.ts';
import type { LibraryVm } from '../library/vm-library.ts';
import type { NativeAddon } from '../native/native-addon.ts';
import { nativeDiskLayerOps } from '../snapshots/disk-layer-ops.ts';
import { SnapshotStoreError } from '../snapshots/snapshot-error.ts';
import {
  SnapshotStore,
  findSnapshot,
  type CollectResult,
  type SnapshotNode,
  type SnapshotTree,
} from '../snapshots/snapshot-store.ts';
import type { SnapshotRevertResult, SnapshotTakeResult } from '../../common/snapshot-types.ts';
import type { ParamsOf } from './protocol.ts';
import { VmHostError, type VmHostClient } from './vm-host-client.ts';
import { isActive } from './vm-host-registry.ts';
import { acquireVmLock } from './vm-lock.ts';
import type { VmServices } from './vm-services.ts';

export interface TakeOptions {
  description?: string;
  /** RAM bytes written so far of the total (a running VM's take only). */
  onProgress?: (done: number, total: number) => void;
}

export interface DeleteSnapshotOptions {
  /** Bytes of the layer merges dealt with so far, of their total. */
  onProgress?: (done: number, total: number) => void;
  /** Cancels a delete of a VM that is off, until it commits; ignored by a running VM's host. */
  signal?: AbortSignal;
}

/** A VM host starting or finishing holds the lock briefly: how long to wait for it. */
const LOCK_ATTEMPTS = 20;
const LOCK_RETRY_MS = 250;

export class VmSnapshots {
  readonly #services: VmServices;
  readonly #addon: () => NativeAddon;

  constructor(services: VmServices, addon: () => NativeAddon) {
    this.#services = services;
    this.#addon = addon;
  }

  async list(vm: LibraryVm): Promise<SnapshotTree> {
    return this.#either(vm, {
      host: (client) => client.call('snapshotList'),
      store: async (store) => store.tree(),
      // A read: when the VM stops under it, the tree is read again from the folder.
      readOnly: true,
    });
  }

  async take(vm: LibraryVm, name: string, options: TakeOptions = {}): Promise<SnapshotTakeResult> {
    const params: ParamsOf<'snapshotTake'> =
      options.description === undefined ? { name } : { name, description: options.description };
    return this.#either<SnapshotTakeResult>(vm, {
      host: async (client) => {
        const off = options.onProgress
          ? client.on('progress', (event) => {
              if (event.operation === 'take') options.onProgress?.(event.done, event.total);
            })
          : undefined;
        try {
          return { snapshot: await client.call('snapshotTake', params), withMemory: true };
        } finally {
          off?.();
        }
      },
      store: async (store) => {
        const prepared = await store.prepareTake({
          name,
          description: options.description ?? '',
          kind: 'disk',
        });
        try {
          return {
            snapshot: await store.commitTake(prepared, { thumbnail: false }),
            withMemory: false,
          };
        } catch (error) {
          await store.abandonTake(prepared).catch(() => undefined);
          throw error;
        }
      },
    });
  }

  async revert(vm: LibraryVm, snapshot: string): Promise<SnapshotRevertResult> {
    return this.#either<SnapshotRevertResult>(vm, {
      host: async (client) => {
        const node = findSnapshot(await client.call('snapshotList'), snapshot);
        const { state } = await client.call('snapshotRevert', { snapshot: node.id });
        return { snapshot: node, state };
      },
      store: async (store) => {
        const node = store.findByName(snapshot);
        if (node.kind === 'disk') {
          await store.revert(node.id);
          return { snapshot: node, state: 'off' };
        }
        // Refused before anything changes when the snapshot's files cannot be restored.
        const files = store.snapshotFiles(node.id);
        this.#addon().describeSnapshot({ stateFile: files.stateFile, ramFile: files.ramFile });
        await store.revert(node.id);
        await store.suspendFromSnapshot(node.id);
        return { snapshot: node, state: 'suspended' };
      },
    });
  }

  /**
   * Deletes a snapshot. `onProgress` gets the bytes its layer merges have dealt with, of
   * their total. `signal` cancels it while the VM is off, until the store commits (see
   * SnapshotStore.delete; the tree is then as it was); a running VM's host runs it to the end.
   */
  async delete(
    vm: LibraryVm,
    snapshot: string,
    options: DeleteSnapshotOptions = {},
  ): Promise<CollectResult & { snapshot: SnapshotNode }> {
    return this.#either(vm, {
      host: async (client) => {
        const node = findSnapshot(await client.call('snapshotList'), snapshot);
        // The host reports to every connection: only its delete's progress counts here.
        const off = options.onProgress
          ? client.on('progress', (event) => {
              if (event.operation === 'delete') options.onProgress?.(event.done, event.total);
            })
          : undefined;
        try {
          return {
            ...(await client.call('snapshotDelete', { snapshot: node.id })),
            snapshot: node,
          };
        } finally {
          off?.();
        }
      },
      store: async (store) => {
        const node = store.findByName(snapshot);
        const deleted = await store.delete(node.id, {
          vmRunning: false,
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        return { ...deleted, snapshot: node };
      },
    });
  }

  async rename(
    vm: LibraryVm,
    snapshot: string,
    change: { name?: string; description?: string },
  ): Promise<SnapshotNode> {
    return this.#either(vm, {
      host: (client) => client.call('snapshotRename', { snapshot, ...change }),
      store: async (store) => {
        let node = store.findByName(snapshot);
        if (change.name !== undefined) node = await store.rename(node.id, change.name);
        if (change.description !== undefined) {
          node = await store.describe(node.id, change.description);
        }
        return node;
      },
    });
  }

  /** Marks (or unmarks) `snapshot` as the base of the linked clone `cloneVmId`. */
  async protect(
    vm: LibraryVm,
    snapshot: string,
    cloneVmId: string,
    protect: boolean,
  ): Promise<SnapshotNode> {
    return this.#either(vm, {
      host: (client) => client.call('snapshotProtect', { snapshot, cloneVmId, protect }),
      store: (store) =>
        protect ? store.protect(snapshot, cloneVmId) : store.unprotect(snapshot, cloneVmId),
    });
  }

  /**
   * Opens the VM's tree in this process. For a VM that runs (`running`), only to read it or
   * for operations that do not race with its host's: nothing is collected then, since the
   * host's prepared files are not referenced yet. Throws a broken tree's problem; a changed
   * disk list is left to the operations, which refuse what it affects.
   */
  async openStore(vm: LibraryVm, options: { running?: boolean } = {}): Promise<SnapshotStore> {
    const disks = (toMachineConfig({ folder: vm.folder, config: vm.config }).disks ?? []).map(
      (disk) => disk.path,
    );
    const store = await SnapshotStore.open(vm.folder, disks, nativeDiskLayerOps(this.#addon()), {
      collect: options.running !== true,
    });
    const problem = store.problem;
    if (problem && problem.code !== 'disk-configuration-changed') throw problem;
    return store;
  }

  async #either<T>(
    vm: LibraryVm,
    ways: {
      host: (client: VmHostClient) => Promise<T>;
      store: (store: SnapshotStore) => Promise<T>;
      readOnly?: boolean;
    },
  ): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const status = await this.#services.registry.status(vm);
      if (isActive(status.state)) {
        let client: VmHostClient;
        try {
          client = await this.#services.registry.connect(vm);
        } catch (error) {
          // Stopped between the status and the connection: nothing was asked; go round again.
          if (error instanceof VmHostError && error.code === 'not-running') {
            if (attempt >= LOCK_ATTEMPTS) throw error;
            await pause(LOCK_RETRY_MS);
            continue;
          }
          throw error;
        }
        try {
          return await ways.host(client);
        } catch (error) {
          // A host that is stopping refuses; a read can be answered from the folder instead
          // (a change is not retried: the user asked it of the running VM).
          if (ways.readOnly && attempt < LOCK_ATTEMPTS && error instanceof VmHostError) {
            if (stoppedUnder(error)) {
              await pause(LOCK_RETRY_MS);
              continue;
            }
          }
          throw error;
        } finally {
          await client.close();
        }
      }
      // Off: this process takes the VM's lock for the operation, so no VM host starts on the
      // tree meanwhile (and one that is finishing has let go of it).
      const lock = await acquireVmLock(vm.id);
      if (lock) {
        try {
          return await ways.store(await this.openStore(vm));
        } finally {
          lock.close();
        }
      }
      if (attempt >= LOCK_ATTEMPTS) {
        throw new SnapshotStoreError(
          'snapshot-tree-busy',
          `"${vm.config.name}" is being started or stopped; try again in a moment`,
        );
      }
      await pause(LOCK_RETRY_MS);
    }
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The host stopped while it was being asked: it is shutting down, or already gone. */
const stoppedUnder = (error: VmHostError): boolean =>
  error.code === 'shutting-down' || error.code === 'not-running' || error.code === 'disconnected';
