/** What the jobs indicator needs from the services (`jobs.changed`, `jobs.cancel`). */
import type { Job } from '../../../client/contract.ts';

export interface JobsApi {
  /** Every job now and after each change; `onError` when the updates stop. Returns the stop. */
  watchJobs(onJobs: (jobs: Job[]) => void, onError?: (error: Error) => void): () => void;
  /** `jobs.cancel`: asks a running cancellable job to stop. */
  cancelJob(id: string): Promise<Job>;
}
