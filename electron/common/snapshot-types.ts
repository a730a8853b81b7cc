/**
 * A VM's snapshots as the UI sees them (docs/snapshots.md). These mirror the snapshot store's
 * own types (electron/services/snapshots/snapshot-store.ts) field for field; the request
 * handlers return the store's values as these types, so the compiler keeps the two in step.
 * Plain types only: the renderer imports this file.
 */

/** 'memory': taken running (machine state and RAM); 'disk': taken powered off (disks only). */
export type SnapshotKind = 'memory' | 'disk';

export interface SnapshotNode {
  /** A lower-case UUID. */
  id: string;
  parentId: string | null;
  name: string;
  description: string;
  /** ISO 8601. */
  createdAt: string;
  kind: SnapshotKind;
  /** Whether `snapshots.thumbnail` has a picture of the screen at the time. */
  thumbnail: boolean;
  /** Ids of linked clones built on it; while any, it cannot be deleted. */
  protectedBy: string[];
  /** Child ids, oldest first. */
  children: string[];
}

export interface SnapshotTree {
  /** Every snapshot, parents before children, siblings oldest first. */
  nodes: SnapshotNode[];
  /** Snapshots without a parent, oldest first. */
  roots: string[];
  /** "You are here": the snapshot the current state descends from; null before any. */
  currentId: string | null;
  /** Hidden layers of deleted snapshots still waiting to be merged (the VM was running). */
  retainedLayers: number;
  /** Set when vm.json's disks are not the ones the snapshots were taken with. */
  diskProblem: string | null;
  /** The VM has a saved state: its next power-on continues it. */
  suspended: boolean;
}

export interface SnapshotTakeResult {
  snapshot: SnapshotNode;
  /** True when the VM was running and its memory was saved too. */
  withMemory: boolean;
}

export interface SnapshotRevertResult {
  snapshot: SnapshotNode;
  /**
   * What the VM is afterwards. A running VM: 'running' (a memory snapshot continues) or
   * 'stopped' (a disk-only snapshot powers it off). A VM that was off: 'suspended' (a memory
   * snapshot; starting it continues the snapshot) or 'off'.
   */
  state: 'running' | 'stopped' | 'off' | 'suspended';
}

export interface SnapshotDeleteResult {
  /** The deleted snapshot as it was. */
  snapshot: SnapshotNode;
  /** Bytes the deleted files occupied. */
  freedBytes: number;
  /** Hidden layers still waiting to be merged (a running VM has them open). */
  retainedLayers: number;
  /** Why merging stopped early, if it did; the snapshots are consistent either way. */
  collectProblem?: string;
}

/**
 * `vm.progress`: a long operation of a running VM, bytes done so far of the total: the RAM a
 * take or a suspend saves, the disk layers a snapshot delete merges.
 */
export interface VmProgress {
  operation: 'take' | 'suspend' | 'delete';
  done: number;
  total: number;
}
