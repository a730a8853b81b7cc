/**
 * Errors from the snapshot store, with a stable code for the transports (the serve API, the
 * CLI's exit codes, the UI's wording) and a message a user can act on.
 */
import type { ValidationIssue } from '../library/validation.ts';

export type SnapshotErrorCode =
  /** No snapshot with that id (or name). */
  | 'snapshot-not-found'
  /** A name matches several snapshots; the message lists their ids. */
  | 'snapshot-ambiguous'
  /** A linked clone uses the snapshot (`protectedBy`), so it cannot be deleted. */
  | 'snapshot-protected'
  /** snapshots/tree.json is not valid: not JSON, wrong fields, or paths leaving snapshots/. */
  | 'snapshot-tree-corrupt'
  /** snapshots/tree.json comes from a newer Nestbox. */
  | 'snapshot-tree-newer'
  /** snapshots/ holds layers or snapshot folders but tree.json is gone. */
  | 'snapshot-tree-missing'
  /** snapshots/tree.json or the snapshots folder cannot be read (permissions, I/O). */
  | 'snapshot-tree-unreadable'
  /** Another process holds the VM (a VM host starting or finishing): try again. */
  | 'snapshot-tree-busy'
  /** vm.json's disk list is not the one the snapshots were taken with. */
  | 'disk-configuration-changed'
  | 'invalid-name'
  | 'invalid-description'
  /** Any other bad argument: a kind, a VM id, a prepared take from elsewhere. */
  | 'invalid-request'
  /** commitTake: the current state changed (revert, delete…) since prepareTake. */
  | 'take-stale'
  /**
   * commitTake: a memory snapshot without its state or RAM file, or a promised thumbnail;
   * commitSuspend: the state or RAM file was not written.
   */
  | 'snapshot-files-missing'
  /** commitSuspend: the current state changed (revert, take…) since prepareSuspend. */
  | 'suspend-stale'
  /** suspendFromSnapshot: the snapshot was taken powered off, so it has no machine state. */
  | 'snapshot-has-no-memory'
  /** suspendFromSnapshot: the VM is not at that snapshot (revert to it first). */
  | 'snapshot-not-current'
  /** Creating or merging a qcow2 layer failed; the tree is unchanged by the failed step. */
  | 'disk-operation-failed'
  /** Writing the tree or making a folder failed; the tree on disk is the old or the new one. */
  | 'snapshot-write-failed';

export class SnapshotStoreError extends Error {
  override readonly name = 'SnapshotStoreError';

  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
    readonly issues: readonly ValidationIssue[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
