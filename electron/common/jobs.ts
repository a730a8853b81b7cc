/**
 * Long operations as jobs (docs/ipc.md): what `jobs.list` and `jobs.changed` report. The
 * request that started a job still answers with its result; a job is an additional view of
 * it, with progress and (for some) a way to cancel it.
 */

export const jobKinds = [
  'snapshot-take',
  'snapshot-delete',
  'snapshot-revert',
  'clone',
  'suspend',
  'disk-create',
] as const;

export type JobKind = (typeof jobKinds)[number];

/** 'running' until it ends as one of the others. */
export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

export interface Job {
  /** Unique in this process (a UUID). */
  id: string;
  kind: JobKind;
  /** The VM it works on (a clone: the source). */
  vmId: string;
  /** For people: "Snapshot “Before update” of “Debian”". */
  label: string;
  state: JobState;
  /** Progress so far, in the operation's own unit (bytes); 0 of 0 while unknown. */
  done: number;
  total: number;
  /** Why it failed (state 'failed'). */
  error?: { message: string; code?: string };
  /** ISO 8601 times. */
  startedAt: string;
  endedAt?: string;
  /** Whether `jobs.cancel` can stop it. */
  cancellable: boolean;
}
