/**
 * What the snapshot screens need from the services (`snapshots.*`, `vm.progress`). The app
 * builds it from the NestboxClient; the screens never see the client.
 */
import type {
  SnapshotDeleteResult,
  SnapshotNode as WireSnapshotNode,
  SnapshotRevertResult,
  SnapshotTakeResult,
  SnapshotTree,
  VmProgress,
} from '../../../client/contract.ts';

export type {
  SnapshotDeleteResult,
  SnapshotRevertResult,
  SnapshotTakeResult,
  SnapshotTree,
  VmProgress,
  WireSnapshotNode,
};

export interface SnapshotsApi {
  /** `snapshots.list`: the tree and "you are here", whether the VM runs or not. */
  list(vmId: string): Promise<SnapshotTree>;
  /** `snapshots.thumbnail`, as a URL an <img> can show (a data: URL). */
  thumbnail?(vmId: string, snapshotId: string): Promise<string>;
  /** `snapshots.take`: memory too while the VM runs, the disks only while it is off. */
  take(vmId: string, snapshot: { name: string; description?: string }): Promise<SnapshotTakeResult>;
  /** `snapshots.revert`. */
  revert(vmId: string, snapshotId: string): Promise<SnapshotRevertResult>;
  /** `snapshots.delete`. */
  remove(vmId: string, snapshotId: string): Promise<SnapshotDeleteResult>;
  /** `snapshots.rename`. */
  rename(vmId: string, snapshotId: string, name: string): Promise<WireSnapshotNode>;
  /**
   * `vm.progress`: a running VM's long operations (a take saving memory, a delete merging
   * layers). Returns the unsubscribe.
   */
  watchProgress?(vmId: string, onProgress: (progress: VmProgress) => void): () => void;
}
