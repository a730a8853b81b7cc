/**
 * Snapshot operations on a running VM, inside its VM host (docs/snapshots.md): the host owns
 * the machine and the VM's snapshot tree while it runs, so every client's take, revert and
 * delete goes through here, one at a time.
 *
 * Take (with memory): pause → the store prepares the snapshot's folder and new overlays →
 * the machine writes its state and RAM there → thumbnail → the store commits → the machine
 * continues on the new overlays (restoreSnapshot without RAM: RAM stays, only the disks and
 * devices switch) → resume if it was running. Until the commit the old tree stands; after
 * it, the old overlay is a frozen layer the machine must never write again, so if switching
 * fails the VM is powered off rather than resumed.
 *
 * Revert: pause → the store commits the new position (new overlays on the snapshot's layers)
 * → a memory snapshot is continued in place and runs; a disk-only snapshot has no machine
 * state to continue, so the VM powers off (as VMware does for a powered-off snapshot).
 */
import { writeFile } from 'node:fs/promises';
import type { VmProgress } from '../../common/snapshot-types.ts';
import type { MachineSession } from '../native/machine-session.ts';
import type { DiskConfig, SnapshotFiles } from '../native/native-addon.ts';
import { SnapshotStoreError } from '../snapshots/snapshot-error.ts';
import type {
  CollectResult,
  SnapshotNode,
  SnapshotStore,
  SnapshotTree,
} from '../snapshots/snapshot-store.ts';
import { HostProtocolError } from './protocol.ts';

/** A take or suspend writing RAM, a delete merging layers: the wire's VmProgress. */
export type SnapshotProgress = VmProgress;

export interface HostSnapshotsOptions {
  store: SnapshotStore;
  session: MachineSession;
  /** The VM's disks as configured (read-only flags, serials): paths come from the store. */
  disks: readonly DiskConfig[];
  log: (message: string) => void;
  progress: (progress: SnapshotProgress) => void;
  /** Reads and checks a snapshot's files (addon.describeSnapshot); throws SNAPSHOT_UNUSABLE. */
  checkSnapshot: (files: SnapshotFiles) => void;
  /** Power the VM off (hard) and end the host: after a failure that must not be resumed. */
  powerOff: (why: string) => void;
}

export interface RevertOutcome {
  /** 'running' after a memory snapshot; 'stopped' after a disk-only one (the VM powered off). */
  state: 'running' | 'stopped';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The disks a machine opens: the snapshot tree's current files (its overlays, or the base
 * disks before the first snapshot) with the flags vm.json configures.
 */
export function currentDisks(
  store: SnapshotStore,
  configured: readonly DiskConfig[],
): DiskConfig[] {
  const files = store.currentDiskFiles();
  return configured.map((disk, index) => ({ ...disk, path: files[index] ?? disk.path }));
}

/** Store refusals that happen before it writes anything (validation, lookups, a stale tree). */
const refusedBeforeCommit = new Set<string>([
  'snapshot-not-found',
  'snapshot-ambiguous',
  'snapshot-protected',
  'snapshot-tree-corrupt',
  'snapshot-tree-newer',
  'snapshot-tree-missing',
  'snapshot-tree-unreadable',
  'disk-configuration-changed',
  'invalid-name',
  'invalid-description',
  'invalid-request',
]);

export class HostSnapshots {
  readonly #options: HostSnapshotsOptions;
  #busy: Promise<unknown> = Promise.resolve();
  /** A failure asked for the VM to stop: nothing may resume it. */
  #stopping = false;

  constructor(options: HostSnapshotsOptions) {
    this.#options = {
      ...options,
      powerOff: (why) => {
        this.#stopping = true;
        options.powerOff(why);
      },
    };
  }

  get store(): SnapshotStore {
    return this.#options.store;
  }

  /** The disks the machine opens now. */
  currentDisks(): DiskConfig[] {
    return currentDisks(this.#options.store, this.#options.disks);
  }

  list(): SnapshotTree {
    return this.#options.store.tree();
  }

  take(name: string, description: string): Promise<SnapshotNode> {
    return this.#serialized(() => this.#take(name, description));
  }

  revert(id: string): Promise<RevertOutcome> {
    return this.#serialized(() => this.#revert(id));
  }

  /**
   * Deletes a snapshot, reporting the merges' progress (operation 'delete'). Not cancellable:
   * a client's cancel would need to name its own request among the queued ones, and the
   * merges it could stop are the few the running VM does not pin.
   */
  delete(id: string): Promise<CollectResult> {
    return this.#serialized(() =>
      this.#options.store.delete(id, {
        vmRunning: true,
        onProgress: (done, total) => this.#options.progress({ operation: 'delete', done, total }),
      }),
    );
  }

  /**
   * Saves the whole machine as the VM's resume point and powers it off; the next power-on
   * continues from there. Until the resume point is committed, a failure leaves the VM as it
   * was (running again if it ran).
   */
  suspend(): Promise<void> {
    return this.#serialized(async () => {
      const { store, session, log } = this.#options;
      const wasRunning = await this.#pauseForSnapshot();
      const prepared = await this.#resumingOnFailure(wasRunning, () => store.prepareSuspend());
      try {
        const started = performance.now();
        const saved = await session.saveSnapshot(
          { stateFile: prepared.stateFile, ramFile: prepared.ramFile },
          (done, total) => this.#options.progress({ operation: 'suspend', done, total }),
        );
        await store.commitSuspend(prepared).catch((error: unknown) => {
          // A commit that failed may still have landed: the next start may continue this
          // state, so the VM must not run on and change its disks.
          this.#options.powerOff(`suspending failed (${messageOf(error)})`);
          throw error;
        });
        log(
          `suspended: state saved in ${Math.round(performance.now() - started)} ms ` +
            `(${saved.ramBytesWritten} of ${saved.ramBytes} RAM bytes written)`,
        );
      } catch (error) {
        await store.abandonSuspend(prepared).catch(() => undefined);
        if (wasRunning && !this.#stopping) session.resume();
        throw error;
      }
      this.#options.powerOff('suspended');
    });
  }

  protect(id: string, cloneVmId: string, protect: boolean): Promise<SnapshotNode> {
    return this.#serialized(async () => {
      const node = this.#options.store.findByName(id);
      return protect
        ? this.#options.store.protect(node.id, cloneVmId)
        : this.#options.store.unprotect(node.id, cloneVmId);
    });
  }

  rename(id: string, name: string | undefined, description: string | undefined) {
    return this.#serialized(async () => {
      let node = this.#options.store.findByName(id);
      if (name !== undefined) node = await this.#options.store.rename(node.id, name);
      if (description !== undefined)
        node = await this.#options.store.describe(node.id, description);
      return node;
    });
  }

  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(task, task);
    this.#busy = run.catch(() => undefined);
    return run;
  }

  async #pauseForSnapshot(): Promise<boolean> {
    const { session } = this.#options;
    const state = session.state;
    if (state !== 'running' && state !== 'paused') {
      throw new HostProtocolError('invalid-state', `the VM is ${state}`);
    }
    if (state === 'running') await session.pause();
    return state === 'running';
  }

  /** Runs `step`; if it throws, a VM that was running runs again before the error goes on. */
  async #resumingOnFailure<T>(wasRunning: boolean, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (wasRunning) this.#options.session.resume();
      throw error;
    }
  }

  async #take(name: string, description: string): Promise<SnapshotNode> {
    const { store, session, log } = this.#options;
    const wasRunning = await this.#pauseForSnapshot();
    const prepared = await this.#resumingOnFailure(wasRunning, () =>
      store.prepareTake({ name, description, kind: 'memory' }),
    );
    let thumbnail = false;
    try {
      const started = performance.now();
      const saved = await session.saveSnapshot(
        { stateFile: prepared.stateFile, ramFile: prepared.ramFile },
        (done, total) => this.#options.progress({ operation: 'take', done, total }),
      );
      const png = session.display.screenshot();
      if (png) {
        await writeFile(prepared.thumbnailFile, png, { mode: 0o600 });
        thumbnail = true;
      }
      log(
        `snapshot "${prepared.name}": state saved in ${Math.round(performance.now() - started)} ms ` +
          `(${saved.ramBytesWritten} of ${saved.ramBytes} RAM bytes written)`,
      );
    } catch (error) {
      await store.abandonTake(prepared).catch(() => undefined);
      if (wasRunning) session.resume();
      throw error;
    }
    const node = await store.commitTake(prepared, { thumbnail }).catch(async (error: unknown) => {
      await store.abandonTake(prepared).catch(() => undefined);
      // A commit that failed may still have landed: the old overlay may be the snapshot's
      // frozen layer now. Running on could change a snapshot; stopping cannot.
      this.#options.powerOff(`taking snapshot "${prepared.name}" failed (${messageOf(error)})`);
      throw error;
    });
    try {
      // RAM stays as it is; the devices continue from the state just saved, on the new overlays.
      await session.restoreSnapshot({ stateFile: prepared.stateFile }, this.currentDisks());
    } catch (error) {
      // The old overlay is now the snapshot's frozen layer: it must not be written again.
      this.#options.powerOff(
        `switching to the new disk overlays after snapshot "${node.name}" failed (${messageOf(error)})`,
      );
      throw error;
    }
    if (wasRunning) session.resume();
    return node;
  }

  async #revert(id: string): Promise<RevertOutcome> {
    const { store, session, log } = this.#options;
    const target = store.findByName(id);
    // A snapshot that cannot be restored is refused before anything changes.
    if (target.kind === 'memory') this.#options.checkSnapshot(store.snapshotFiles(target.id));
    const wasRunning = await this.#pauseForSnapshot();
    let result;
    try {
      result = await store.revert(target.id);
    } catch (error) {
      if (error instanceof SnapshotStoreError && refusedBeforeCommit.has(error.code)) {
        // Refused before anything changed: the VM is where it was.
        if (wasRunning) session.resume();
      } else {
        // It may have committed: the VM's overlay may no longer be the tree's.
        this.#options.powerOff(`reverting to "${target.name}" failed (${messageOf(error)})`);
      }
      throw error;
    }
    if (!result.memory) {
      log(`reverted to disk-only snapshot "${target.name}": powering the VM off`);
      this.#options.powerOff(`reverted to the powered-off snapshot "${target.name}"`);
      return { state: 'stopped' };
    }
    try {
      await session.restoreSnapshot(result.memory, this.currentDisks());
    } catch (error) {
      this.#options.powerOff(`restoring snapshot "${target.name}" failed (${messageOf(error)})`);
      throw error;
    }
    session.resume();
    log(`reverted to snapshot "${target.name}"`);
    return { state: 'running' };
  }
}
