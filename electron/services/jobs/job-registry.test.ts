import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job } from '../../common/jobs.ts';
import { RequestError } from '../request-error.ts';
import { FINISHED_JOBS_KEPT, JobRegistry } from './job-registry.ts';
import { parseJobCancelRequest } from './job-validation.ts';

const VM = '5d8a3c1e-2f4b-4c6d-8e9f-0a1b2c3d4e5f';

/** A promise with its resolve and reject outside. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

test('a job runs, reports progress and ends done with the work’s result', async () => {
  const jobs = new JobRegistry({ coalesceMs: 0 });
  const gate = deferred<string>();
  let progress!: (done: number, total: number) => void;
  const running = jobs.run('snapshot-take', { vmId: VM, label: 'Snapshot “A”' }, (job) => {
    progress = job.progress;
    return gate.promise;
  });
  const [job] = jobs.list();
  assert.ok(job);
  assert.equal(job.state, 'running');
  assert.equal(job.kind, 'snapshot-take');
  assert.equal(job.vmId, VM);
  assert.equal(job.cancellable, false);
  assert.equal(job.endedAt, undefined);
  assert.ok(!Number.isNaN(Date.parse(job.startedAt)));

  progress(25, 100);
  assert.deepEqual(
    jobs.list().map(({ done, total }) => [done, total]),
    [[25, 100]],
  );
  gate.resolve('taken');
  assert.equal(await running, 'taken');
  const ended = jobs.get(job.id);
  assert.equal(ended?.state, 'done');
  assert.ok(ended?.endedAt);
  // Progress after the end changes nothing.
  progress(99, 100);
  assert.equal(jobs.get(job.id)?.done, 25);
});

test('a failed job keeps the error and the request still gets it', async () => {
  const jobs = new JobRegistry();
  const failure = new RequestError('snapshot-failed', 'the disk is full');
  await assert.rejects(
    jobs.run('snapshot-delete', { vmId: VM, label: 'Delete' }, () => Promise.reject(failure)),
    failure,
  );
  const [job] = jobs.list();
  assert.equal(job?.state, 'failed');
  assert.deepEqual(job?.error, { message: 'the disk is full', code: 'snapshot-failed' });
  await assert.rejects(
    jobs.run('suspend', { vmId: VM, label: 'Suspend' }, () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.deepEqual(jobs.list()[1]?.error, { message: 'boom' });
});

test('cancel aborts a cancellable job, which ends cancelled; refusals are clear', async () => {
  const jobs = new JobRegistry();
  const running = jobs.run('clone', { vmId: VM, label: 'Clone', cancellable: true }, (job) => {
    return new Promise((_resolve, reject) => {
      job.signal.addEventListener('abort', () => reject(job.signal.reason));
    });
  });
  const id = jobs.list()[0]?.id ?? '';
  const answered = jobs.cancel(id);
  assert.equal(answered.id, id);
  await assert.rejects(running, /cancelled/);
  assert.equal(jobs.get(id)?.state, 'cancelled');
  assert.equal(jobs.get(id)?.error, undefined);
  expectCode(() => jobs.cancel(id), 'invalid-state', /already ended \(cancelled\)/);

  const gate = deferred<undefined>();
  const fixed = jobs.run('snapshot-revert', { vmId: VM, label: 'Revert' }, () => gate.promise);
  const fixedId = jobs.list()[1]?.id ?? '';
  expectCode(() => jobs.cancel(fixedId), 'invalid-state', /cannot be cancelled/);
  gate.resolve(undefined);
  await fixed;
  expectCode(() => jobs.cancel(VM), 'not-found', /no job/);
});

test('work that finishes despite a cancel is done', async () => {
  const jobs = new JobRegistry();
  const gate = deferred<number>();
  const running = jobs.run(
    'clone',
    { vmId: VM, label: 'Clone', cancellable: true },
    () => gate.promise,
  );
  const id = jobs.list()[0]?.id ?? '';
  jobs.cancel(id);
  gate.resolve(7);
  assert.equal(await running, 7);
  assert.equal(jobs.get(id)?.state, 'done');
});

test(`the last ${FINISHED_JOBS_KEPT} finished jobs are kept, running ones always`, async () => {
  const jobs = new JobRegistry();
  const gate = deferred<undefined>();
  const long = jobs.run('clone', { vmId: VM, label: 'Long' }, () => gate.promise);
  for (let n = 0; n < FINISHED_JOBS_KEPT + 10; n++) {
    await jobs.run('snapshot-take', { vmId: VM, label: `Take ${n}` }, async () => n);
  }
  const list = jobs.list();
  assert.equal(list.length, FINISHED_JOBS_KEPT + 1);
  assert.equal(list[0]?.label, 'Long');
  assert.equal(list[1]?.label, 'Take 10');
  assert.equal(list.at(-1)?.label, `Take ${FINISHED_JOBS_KEPT + 9}`);
  gate.resolve(undefined);
  await long;
  // The oldest to finish goes, not the oldest to start.
  assert.equal(jobs.list().length, FINISHED_JOBS_KEPT);
  assert.equal(jobs.list()[0]?.label, 'Long');
  assert.equal(jobs.list()[1]?.label, 'Take 11');
});

test('listeners hear changes coalesced, and nothing after unsubscribing', async () => {
  const jobs = new JobRegistry({ coalesceMs: 20 });
  const heard: Job[][] = [];
  const stop = jobs.subscribe((list) => heard.push(list));
  const gate = deferred<undefined>();
  const running = jobs.run('suspend', { vmId: VM, label: 'Suspend' }, async (job) => {
    for (let done = 1; done <= 10; done++) job.progress(done, 10);
    await gate.promise;
  });
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(heard.length, 1, 'a start and ten progress reports are one notification');
  assert.equal(heard[0]?.[0]?.done, 10);
  gate.resolve(undefined);
  await running;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(heard.at(-1)?.[0]?.state, 'done');
  const count = heard.length;
  stop();
  await jobs.run('suspend', { vmId: VM, label: 'Again' }, async () => undefined);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(heard.length, count);
  jobs.close();
});

test('jobs.cancel payloads are validated', () => {
  for (const bad of [
    undefined,
    null,
    'x',
    {},
    { id: 7 },
    { id: 'job-1' },
    { id: VM, force: true },
  ]) {
    expectCode(() => parseJobCancelRequest(bad), 'bad-request');
  }
  const refused = (() => {
    try {
      parseJobCancelRequest({ id: 'nope' });
    } catch (error) {
      return error as RequestError;
    }
    return undefined;
  })();
  assert.deepEqual(refused?.issues, [
    { path: 'id', message: 'must be a job id (a UUID, as jobs.list reports it)' },
  ]);
  assert.deepEqual(parseJobCancelRequest({ id: VM }), { id: VM });
});
