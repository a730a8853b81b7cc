import { describe, expect, it, vi } from 'vitest';
import { servicesFromClient } from '../../app/services.ts';
import type { NestboxClient } from '../../client/nestbox-client.ts';
import type { Job, SubscriptionEnd } from '../../client/contract.ts';

describe('jobs services', () => {
  it('watch jobs.changed, report its end as an error, and cancel by id', async () => {
    let ended: ((end: SubscriptionEnd) => void) | undefined;
    const stop = vi.fn();
    const client = {
      onJobsChanged: vi.fn(
        (listener: (jobs: Job[]) => void, onEnd?: (end: SubscriptionEnd) => void) => {
          listener([]);
          ended = onEnd;
          return stop;
        },
      ),
      cancelJob: vi.fn(async () => ({}) as Job),
    } as unknown as NestboxClient;
    const jobs = servicesFromClient(client).jobs;
    const lists: Job[][] = [];
    const errors: Error[] = [];
    const unwatch = jobs?.watchJobs(
      (list) => lists.push(list),
      (error) => errors.push(error),
    );
    ended?.({ reason: 'error', error: { message: 'The connection to Nestbox was lost' } });
    unwatch?.();
    await jobs?.cancelJob('job-1');

    expect(lists).toEqual([[]]);
    expect(errors.map((error) => error.message)).toEqual(['The connection to Nestbox was lost']);
    expect(stop).toHaveBeenCalledTimes(1);
    expect(client.cancelJob).toHaveBeenCalledWith({ id: 'job-1' });
  });
});
