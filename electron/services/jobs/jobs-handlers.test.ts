/**
 * Jobs through the request handlers, on a real library (a temp NESTBOX_HOME) with the real
 * native core: long requests are recorded as jobs, a full clone can be cancelled mid-copy
 * (and leaves no VM behind), `jobs.cancel` refuses what it cannot do, `jobs.changed` reports.
 * No KVM here: the VMs are off.
 */
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { RequestChannel, RequestOf, ResponseOf } from '../../common/contract.ts';
import type { Job } from '../../common/jobs.ts';
import { routeOf } from '../../serve/event-sockets.ts';
import { makeTempDir } from '../library/test-fixtures.ts';
import { NEW_DISK_FILE } from '../library/vm-library.ts';
import { loadNativeAddon } from '../native/load-addon.ts';
import type { NativeAddon } from '../native/native-addon.ts';
import { RequestError } from '../request-error.ts';
import { createAppServices, dispatchRequest, type AppServices } from '../request-handlers.ts';
import type { VmHostRegistry } from '../vm-host/vm-host-registry.ts';
import { openVmServices } from '../vm-host/vm-services.ts';

const UNKNOWN_JOB = '0a3f5b0c-1d2e-4f30-8a4b-5c6d7e8f9a0b';

async function expectRequestError(promise: Promise<unknown>, code: string): Promise<RequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RequestError, `expected a RequestError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected RequestError ${code}`);
}

async function setUp(t: { after(fn: () => Promise<void> | void): void }, diskBytes = 2 ** 26) {
  const { dir, cleanup } = await makeTempDir('jobs');
  t.after(cleanup);
  const env: NodeJS.ProcessEnv = {
    NESTBOX_HOME: dir,
    XDG_RUNTIME_DIR: path.join(dir, 'runtime'),
    PATH: '',
  };
  const kernel = path.join(dir, 'vmlinuz');
  await writeFile(kernel, 'not really a kernel');
  const addon: NativeAddon = loadNativeAddon();
  const services: AppServices = createAppServices({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => addon,
    openVmServices: () =>
      openVmServices({
        env,
        createDiskImage: (file, options) => addon.imageCreate(file, options),
        launcher: { command: '/bin/false', args: [] },
      }),
  });
  t.after(() => services.close());
  const call = <C extends RequestChannel>(channel: C, request: RequestOf<C>) =>
    dispatchRequest(services.handlers, channel, request) as Promise<ResponseOf<C>>;
  const vm = await call('vms.create', {
    name: 'Alpine',
    kernel,
    newDisk: { sizeBytes: diskBytes },
  });
  return { addon, call, services, vm, dir };
}

test('long requests are jobs: create with a disk, snapshot take, revert, delete, clone', async (t) => {
  const { call, services, vm } = await setUp(t);
  const taken = await call('snapshots.take', { id: vm.id, name: 'Clean' });
  await call('snapshots.revert', { id: vm.id, snapshot: taken.snapshot.id });
  const copy = await call('vms.clone', { id: vm.id, name: 'Copy' });
  await call('snapshots.delete', { id: vm.id, snapshot: taken.snapshot.id });
  await call('vms.rename', { id: vm.id, name: 'Not a job' });

  const jobs = await call('jobs.list', undefined);
  assert.deepEqual(
    jobs.map((job) => [job.kind, job.state, job.vmId, job.cancellable]),
    [
      ['disk-create', 'done', '', false],
      ['snapshot-take', 'done', vm.id, false],
      ['snapshot-revert', 'done', vm.id, false],
      ['clone', 'done', vm.id, true],
      ['snapshot-delete', 'done', vm.id, true], // the VM is off: the merge can be cancelled
    ],
  );
  assert.equal(jobs[1]?.label, 'Snapshot “Clean” of “Alpine”');
  const clone = jobs[3];
  assert.equal(clone?.label, 'Clone “Alpine” as “Copy”');
  assert.equal(clone?.done, 2 ** 26, 'the clone reported the bytes it copied');
  assert.equal(clone?.total, 2 ** 26);
  assert.notEqual(copy.id, vm.id);

  // A request refused before its work starts (an unknown snapshot) is no job.
  await expectRequestError(
    call('snapshots.delete', { id: vm.id, snapshot: UNKNOWN_JOB }),
    'snapshot-not-found',
  );
  assert.equal((await call('jobs.list', undefined)).length, 5);

  // jobs.cancel: unknown, finished, not cancellable.
  const unknown = await expectRequestError(call('jobs.cancel', { id: UNKNOWN_JOB }), 'not-found');
  assert.equal(unknown.status, 404);
  const ended = await expectRequestError(
    call('jobs.cancel', { id: clone?.id ?? '' }),
    'invalid-state',
  );
  assert.equal(ended.status, 409);
  assert.match(ended.message, /has already ended \(done\)/);
  const bad = await expectRequestError(
    dispatchRequest(services.handlers, 'jobs.cancel', { id: 'x' }),
    'bad-request',
  );
  assert.deepEqual(
    bad.issues?.map((issue) => issue.path),
    ['id'],
  );
});

test('a full clone cancelled mid-copy leaves no VM behind and ends cancelled', async (t) => {
  // 1 GiB, sparse, with data every 16 MiB: the copy reads 256 chunks and writes 64.
  const size = 2 ** 30;
  const { addon, call, services, vm } = await setUp(t, size);
  const disk = await addon.openDiskImage(path.join(vm.folder, NEW_DISK_FILE));
  try {
    const data = new Uint8Array(1024 * 1024).fill(0xab);
    for (let offset = 0; offset < size; offset += 16 * 1024 * 1024) await disk.write(offset, data);
    await disk.flush();
  } finally {
    await disk.close();
  }
  const libraryBefore = await readdir(path.dirname(vm.folder));

  const seen: Job[][] = [];
  let cancelled: Job | undefined;
  const stop = services.jobs.subscribe((jobs) => {
    seen.push(jobs);
    const clone = jobs.find((job) => job.kind === 'clone');
    if (clone && !cancelled && clone.done > 0) {
      assert.ok(clone.done < clone.total, 'cancelled mid-copy');
      void call('jobs.cancel', { id: clone.id }).then((job) => {
        cancelled = job;
      });
    }
  });
  t.after(stop);
  const refused = await expectRequestError(
    call('vms.clone', { id: vm.id, name: 'Half copy' }),
    'invalid-state',
  );
  assert.match(refused.message, /cancelled/);
  assert.equal(cancelled?.state, 'running', 'jobs.cancel answers before the copy has stopped');

  const [job] = (await call('jobs.list', undefined)).filter((each) => each.kind === 'clone');
  assert.equal(job?.state, 'cancelled');
  assert.ok(job?.endedAt);
  assert.ok((job?.done ?? 0) < size);
  const list = await call('vms.list', undefined);
  assert.deepEqual(
    list.vms.map((entry) => entry.name),
    ['Alpine'],
  );
  assert.deepEqual(list.broken, []);
  assert.deepEqual(await readdir(path.dirname(vm.folder)), libraryBefore, 'no folder left');
});

test('jobs.changed sends the list at once, then the changes', async (t) => {
  const { call, services, vm } = await setUp(t);
  const events: Job[][] = [];
  const subscription = await services.subscriptions['jobs.changed'].open(undefined, {
    event: (jobs) => events.push(jobs),
    end: () => assert.fail('it does not end on its own'),
  });
  t.after(() => subscription.close());
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(
    events[0]?.map((job) => job.kind),
    ['disk-create'],
  );
  await call('snapshots.take', { id: vm.id, name: 'One' });
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.deepEqual(
    events.at(-1)?.map((job) => [job.kind, job.state]),
    [
      ['disk-create', 'done'],
      ['snapshot-take', 'done'],
    ],
  );
  subscription.close();
  const count = events.length;
  await call('snapshots.take', { id: vm.id, name: 'Two' });
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(events.length, count);
});

test('nestbox serve carries jobs.changed on /api/jobs', () => {
  assert.deepEqual(routeOf('/api/jobs', new URLSearchParams()), {
    channel: 'jobs.changed',
    params: undefined,
  });
  assert.equal(routeOf('/api/jobs/x', new URLSearchParams()), null);
});

/** A running VM's host as its clients see it: `progress` goes to every connection. */
class FakeHost {
  suspended = false;
  readonly #clients = new Set<{ emit(event: string, data: unknown): void; destroy(): void }>();

  connect() {
    const listeners = new Map<string, ((data: unknown) => void)[]>();
    let end!: (error: undefined) => void;
    const client = {
      isOpen: true,
      closed: new Promise<undefined>((resolve) => (end = resolve)),
      on: (event: string, listener: (data: unknown) => void) => {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return () => {
          listeners.set(
            event,
            (listeners.get(event) ?? []).filter((each) => each !== listener),
          );
        };
      },
      emit: (event: string, data: unknown) => {
        for (const listener of listeners.get(event) ?? []) listener(data);
      },
      call: async (method: string, params?: { name?: string }) => this.#call(method, params),
      destroy: () => {
        client.isOpen = false;
        this.#clients.delete(client);
        end(undefined);
      },
      close: async () => client.destroy(),
    };
    this.#clients.add(client);
    return client;
  }

  #progress(operation: string, total: number): void {
    for (let done = 1; done <= total; done++) {
      for (const client of this.#clients) client.emit('progress', { operation, done, total });
    }
  }

  async #call(method: string, params?: { name?: string }): Promise<unknown> {
    switch (method) {
      case 'snapshotTake':
        this.#progress('take', 4);
        return {
          id: '5b0c0a3f-1d2e-4f30-8a4b-5c6d7e8f9a0b',
          parentId: null,
          name: params?.name ?? '',
          description: '',
          createdAt: '2025-02-01T10:00:00.000Z',
          kind: 'memory',
          thumbnail: true,
          protectedBy: [],
          children: [],
        };
      case 'suspend':
        this.#progress('suspend', 2);
        this.suspended = true;
        setImmediate(() => {
          for (const client of [...this.#clients]) client.destroy();
        });
        return {};
    }
    throw new Error(`unexpected call ${method}`);
  }
}

test('a running VM’s take and suspend jobs get their progress from the VM host', async (t) => {
  const { dir, cleanup } = await makeTempDir('jobs-host');
  t.after(cleanup);
  const env: NodeJS.ProcessEnv = { NESTBOX_HOME: dir, XDG_RUNTIME_DIR: path.join(dir, 'run') };
  const kernel = path.join(dir, 'vmlinuz');
  await writeFile(kernel, 'not really a kernel');
  const addon: NativeAddon = loadNativeAddon();
  const host = new FakeHost();
  const open = () =>
    openVmServices({ env, createDiskImage: (file, options) => addon.imageCreate(file, options) });
  const services = createAppServices({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => addon,
    openVmServices: async () => {
      const real = await open();
      const registry = {
        status: async () =>
          host.suspended ? { state: 'suspended' } : { state: 'running', pid: 2 ** 22 + 1 },
        connect: async () => host.connect(),
      };
      return { ...real, registry: registry as unknown as VmHostRegistry };
    },
  });
  t.after(() => services.close());
  const call = <C extends RequestChannel>(channel: C, request: RequestOf<C>) =>
    dispatchRequest(services.handlers, channel, request) as Promise<ResponseOf<C>>;
  const vm = await call('vms.create', { name: 'Alpine', kernel });

  const taken = await call('snapshots.take', { id: vm.id, name: 'Live' });
  assert.equal(taken.withMemory, true);
  await call('vms.suspend', { id: vm.id });
  assert.deepEqual(
    (await call('jobs.list', undefined)).map((job) => [job.kind, job.state, job.done, job.total]),
    [
      ['snapshot-take', 'done', 4, 4],
      ['suspend', 'done', 2, 2],
    ],
  );
});
