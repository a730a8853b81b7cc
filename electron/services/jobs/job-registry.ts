/**
 * JobRegistry: the long operations of one AppServices (docs/ipc.md, "Jobs"). A request that
 * does something long runs it through `run`, which records it as a Job, hands the work an
 * AbortSignal and a progress callback, and reports every change to the listeners (coalesced).
 * The request still answers with the work's result or error; the job is an additional view.
 * Finished jobs are kept (the last 50) so a list opened afterwards still shows how they ended.
 */
import { randomUUID } from 'node:crypto';
import type { Job, JobKind } from '../../common/jobs.ts';
import { RequestError, isRequestErrorCode } from '../request-error.ts';

/** Finished jobs kept for `jobs.list`. */
export const FINISHED_JOBS_KEPT = 50;

export interface JobOptions {
  vmId: string;
  label: string;
  /** Whether the work stops on `signal` (then `jobs.cancel` may abort it). */
  cancellable?: boolean;
}

/** What the work of a job gets. */
export interface JobContext {
  /** Aborted by `jobs.cancel` (cancellable jobs only). */
  readonly signal: AbortSignal;
  /** Progress so far of the total, in the operation's unit. */
  progress(done: number, total: number): void;
}

export interface JobRegistryOptions {
  /** Changes within this time are one notification (default 50 ms). */
  coalesceMs?: number;
  now?: () => Date;
}

interface Entry {
  job: Job;
  controller: AbortController;
}

/** The error a cancelled job's request answers with (unless the work threw its own). */
export function cancelledError(job: Job): RequestError {
  return new RequestError('invalid-state', `${job.label}: cancelled.`);
}

export class JobRegistry {
  readonly #entries = new Map<string, Entry>();
  /** Finished jobs' ids in the order they ended. */
  readonly #finished: string[] = [];
  readonly #listeners = new Set<(jobs: Job[]) => void>();
  readonly #coalesceMs: number;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: JobRegistryOptions = {}) {
    this.#coalesceMs = options.coalesceMs ?? 50;
    this.#now = options.now ?? (() => new Date());
  }

  /** Every job, running and kept, in the order they started (copies). */
  list(): Job[] {
    return [...this.#entries.values()].map(({ job }) => copy(job));
  }

  get(id: string): Job | undefined {
    const entry = this.#entries.get(id);
    return entry && copy(entry.job);
  }

  /**
   * Runs `work` as a job and answers with its result; a failure is rethrown as is. A
   * cancelled job whose work ended by throwing is 'cancelled', not 'failed'.
   */
  async run<T>(
    kind: JobKind,
    options: JobOptions,
    work: (job: JobContext) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    const job: Job = {
      id: randomUUID(),
      kind,
      vmId: options.vmId,
      label: options.label,
      state: 'running',
      done: 0,
      total: 0,
      startedAt: this.#now().toISOString(),
      cancellable: options.cancellable ?? false,
    };
    this.#entries.set(job.id, { job, controller });
    this.#changed();
    const context: JobContext = {
      signal: controller.signal,
      progress: (done, total) => {
        if (job.state !== 'running') return;
        if (!Number.isFinite(done) || !Number.isFinite(total)) return;
        job.done = Math.max(0, done);
        job.total = Math.max(0, total);
        this.#changed();
      },
    };
    try {
      const result = await work(context);
      // Finished before the abort took: it is done (the request answers with its result).
      this.#finish(job, 'done');
      return result;
    } catch (error) {
      if (controller.signal.aborted) {
        this.#finish(job, 'cancelled');
        throw error;
      }
      const message = error instanceof Error ? error.message : String(error);
      const code = (error as { code?: unknown } | null)?.code;
      job.error = isRequestErrorCode(code) ? { message, code } : { message };
      this.#finish(job, 'failed');
      throw error;
    }
  }

  /**
   * Asks a running cancellable job to stop; answers with the job as it is then (still
   * 'running' until its work has cleaned up). 'not-found' for an unknown job, 'invalid-state'
   * for one that cannot be cancelled or has ended.
   */
  cancel(id: string): Job {
    const entry = this.#entries.get(id);
    if (!entry) {
      throw new RequestError('not-found', `There is no job ${id} (jobs.list shows them).`);
    }
    const { job, controller } = entry;
    if (job.state !== 'running') {
      throw new RequestError(
        'invalid-state',
        `${job.label} has already ended (${job.state}): there is nothing to cancel.`,
      );
    }
    if (!job.cancellable) {
      throw new RequestError(
        'invalid-state',
        `${job.label} cannot be cancelled: it runs to the end once started.`,
      );
    }
    if (!controller.signal.aborted) {
      controller.abort(cancelledError(job));
      this.#changed();
    }
    return copy(job);
  }

  /** Every change (coalesced): the whole list. Returns the unsubscribe. */
  subscribe(listener: (jobs: Job[]) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Stops notifying; running jobs go on (their requests answer as usual). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  #finish(job: Job, state: Job['state']): void {
    job.state = state;
    job.endedAt = this.#now().toISOString();
    this.#finished.push(job.id);
    this.#prune();
    this.#changed();
  }

  /** Keeps the last FINISHED_JOBS_KEPT jobs to finish. */
  #prune(): void {
    const dropped = this.#finished.splice(
      0,
      Math.max(0, this.#finished.length - FINISHED_JOBS_KEPT),
    );
    for (const id of dropped) this.#entries.delete(id);
  }

  #changed(): void {
    if (this.#listeners.size === 0 || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const jobs = this.list();
      for (const listener of [...this.#listeners]) listener(jobs);
    }, this.#coalesceMs);
    this.#timer.unref?.();
  }
}

function copy(job: Job): Job {
  return { ...job, ...(job.error ? { error: { ...job.error } } : {}) };
}
