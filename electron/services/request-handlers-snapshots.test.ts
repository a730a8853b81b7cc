/**
 * The snapshot, suspend and clone channels on a real library (a temp NESTBOX_HOME) with the
 * real native core making and merging qcow2 layers. No KVM here: VMs are off (snapshots of
 * disks only, nothing asks a VM host), or "run" on a fake VM host.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { RequestChannel, RequestOf, ResponseOf } from '../common/contract.ts';
import { makeTempDir } from './library/test-fixtures.ts';
import { loadNativeAddon } from './native/load-addon.ts';
import type { NativeAddon } from './native/native-addon.ts';
import { RequestError } from './request-error.ts';
import { createAppServices, dispatchRequest, type AppServices } from './request-handlers.ts';
import { VmHostError } from './vm-host/vm-host-client.ts';
import type { VmHostRegistry } from './vm-host/vm-host-registry.ts';
import { openVmServices } from './vm-host/vm-services.ts';
import { VmSnapshots } from './vm-host/vm-snapshots.ts';

const UNKNOWN_SNAPSHOT = '0a3f5b0c-1d2e-4f30-8a4b-5c6d7e8f9a0b';

async function expectRequestError(
  promise: Promise<unknown>,
  code: string,
  what = '',
): Promise<RequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof RequestError,
      `${what}: expected a RequestError, got ${String(error)}`,
    );
    assert.equal(error.code, code, `${what}: ${error.message}`);
    return error;
  }
  assert.fail(`${what}: expected RequestError ${code}`);
}

/** A library of its own, the real addon, and VM hosts that can never start (no KVM here). */
async function setUp(t: { after(fn: () => Promise<void> | void): void }) {
  const { dir, cleanup } = await makeTempDir('handlers-snapshots');
  t.after(cleanup);
  const env: NodeJS.ProcessEnv = {
    NESTBOX_HOME: dir,
    XDG_RUNTIME_DIR: path.join(dir, 'runtime'),
    PATH: '',
  };
  const kernel = path.join(dir, 'vmlinuz');
  await writeFile(kernel, 'not really a kernel');
  const addon: NativeAddon = loadNativeAddon();
  const open = () =>
    openVmServices({
      env,
      createDiskImage: (file, options) => addon.imageCreate(file, options),
      // A host that exits at once: `vms.start` fails quickly, and no VM ever runs.
      launcher: { command: '/bin/false', args: [] },
    });
  const services: AppServices = createAppServices({
    appVersion: '0.1.0',
    env,
    loadNativeAddon: () => addon,
    openVmServices: open,
  });
  t.after(() => services.close());
  const call = <C extends RequestChannel>(channel: C, request: RequestOf<C>) =>
    dispatchRequest(services.handlers, channel, request) as Promise<ResponseOf<C>>;
  const vm = await call('vms.create', { name: 'Alpine', kernel, newDisk: { sizeBytes: 2 ** 26 } });
  return { addon, call, open, vm, dir, services };
}

test('snapshots of a VM that is off: take, list, revert, rename, thumbnail, delete', async (t) => {
  const { call, vm } = await setUp(t);
  const empty = await call('snapshots.list', { id: vm.id });
  assert.deepEqual(empty.nodes, []);
  assert.equal(empty.currentId, null);
  assert.equal(empty.suspended, false);

  const first = await call('snapshots.take', {
    id: vm.id,
    name: ' Clean install ',
    description: 'fresh',
  });
  assert.equal(first.withMemory, false);
  assert.equal(first.snapshot.kind, 'disk');
  assert.equal(first.snapshot.name, 'Clean install');
  assert.equal(first.snapshot.thumbnail, false);
  let tree = await call('snapshots.list', { id: vm.id });
  assert.deepEqual(
    tree.nodes.map((node) => node.id),
    [first.snapshot.id],
  );
  assert.equal(tree.currentId, first.snapshot.id);
  assert.deepEqual(tree.roots, [first.snapshot.id]);

  const second = await call('snapshots.take', { id: vm.id, name: 'Second' });
  tree = await call('snapshots.list', { id: vm.id });
  assert.equal(tree.currentId, second.snapshot.id);
  assert.deepEqual(tree.nodes[0]?.children, [second.snapshot.id]);

  // Snapshot ids are case-insensitive on the wire (UUIDs), stored lower-case.
  const reverted = await call('snapshots.revert', {
    id: vm.id,
    snapshot: first.snapshot.id.toUpperCase(),
  });
  assert.equal(reverted.state, 'off');
  assert.equal(reverted.snapshot.id, first.snapshot.id);
  assert.equal((await call('snapshots.list', { id: vm.id })).currentId, first.snapshot.id);

  const renamed = await call('snapshots.rename', {
    id: vm.id,
    snapshot: second.snapshot.id,
    name: 'Before upgrade',
    description: 'kernel 6.6',
  });
  assert.equal(renamed.name, 'Before upgrade');
  assert.equal(renamed.description, 'kernel 6.6');
  const described = await call('snapshots.rename', {
    id: vm.id,
    snapshot: second.snapshot.id,
    description: '',
  });
  assert.equal(described.name, 'Before upgrade');
  assert.equal(described.description, '');

  // Taken off: no thumbnail. An unknown snapshot is told apart from a missing picture.
  const noPicture = await expectRequestError(
    call('snapshots.thumbnail', { id: vm.id, snapshot: first.snapshot.id }),
    'not-found',
  );
  assert.equal(noPicture.status, 404);
  assert.match(noPicture.message, /"Clean install" of "Alpine" has no thumbnail/);
  for (const channel of ['snapshots.thumbnail', 'snapshots.revert', 'snapshots.delete'] as const) {
    const error = await expectRequestError(
      call(channel, { id: vm.id, snapshot: UNKNOWN_SNAPSHOT }),
      'snapshot-not-found',
      channel,
    );
    assert.equal(error.status, 404);
  }
  await expectRequestError(
    call('snapshots.rename', { id: vm.id, snapshot: UNKNOWN_SNAPSHOT, name: 'x' }),
    'snapshot-not-found',
  );

  const deleted = await call('snapshots.delete', { id: vm.id, snapshot: second.snapshot.id });
  assert.equal(deleted.snapshot.id, second.snapshot.id);
  assert.ok(deleted.freedBytes > 0, `freed ${deleted.freedBytes} bytes`);
  assert.equal(deleted.retainedLayers, 0);
  tree = await call('snapshots.list', { id: vm.id });
  assert.deepEqual(
    tree.nodes.map((node) => [node.id, node.children]),
    [[first.snapshot.id, []]],
  );
});

test('vms.clone makes full and linked clones; a linked clone protects its snapshot', async (t) => {
  const { call, vm } = await setUp(t);
  const clean = await call('snapshots.take', { id: vm.id, name: 'Clean' });

  const full = await call('vms.clone', { id: vm.id, name: 'Full copy' });
  assert.notEqual(full.id, vm.id);
  assert.equal(full.config.name, 'Full copy');
  assert.equal(full.state, 'off');
  assert.notEqual(full.config.hardware.network.macAddress, vm.config.hardware.network.macAddress);
  assert.deepEqual(full.config.hardware.disks, [{ file: 'disk0.qcow2', format: 'qcow2' }]);
  assert.ok((await stat(path.join(full.folder, 'disk0.qcow2'))).isFile());

  const linked = await call('vms.clone', {
    id: vm.id,
    name: 'Linked',
    linked: true,
    snapshot: clean.snapshot.id,
  });
  assert.deepEqual(linked.config.hardware.disks, [{ file: 'disk0.qcow2', format: 'qcow2' }]);
  const tree = await call('snapshots.list', { id: vm.id });
  assert.deepEqual(tree.nodes[0]?.protectedBy, [linked.id]);

  const refused = await expectRequestError(
    call('snapshots.delete', { id: vm.id, snapshot: clean.snapshot.id }),
    'snapshot-protected',
  );
  assert.equal(refused.status, 409);
  assert.match(refused.message, new RegExp(linked.id));
  assert.equal((await call('snapshots.list', { id: vm.id })).nodes.length, 1, 'nothing deleted');

  await expectRequestError(
    call('vms.clone', { id: vm.id, name: 'Ghost', snapshot: UNKNOWN_SNAPSHOT }),
    'snapshot-not-found',
  );
  const list = await call('vms.list', undefined);
  assert.deepEqual(list.vms.map((entry) => entry.name).sort(), ['Alpine', 'Full copy', 'Linked']);
});

test('suspend: refused for a VM that is off; a suspended VM lists as such and can be discarded', async (t) => {
  const { addon, call, open, vm } = await setUp(t);
  const off = await expectRequestError(call('vms.suspend', { id: vm.id }), 'invalid-state');
  assert.equal(off.status, 409);
  assert.match(off.message, /"Alpine" is off: only a running or paused VM can be suspended/);

  // A saved state as a VM host's suspend leaves it (the files' content is not read here).
  const services = await open();
  const library = await services.library.get(vm.id);
  const store = await new VmSnapshots(services, () => addon).openStore(library);
  const prepared = await store.prepareSuspend();
  await writeFile(prepared.stateFile, 'state');
  await writeFile(prepared.ramFile, 'ram');
  await store.commitSuspend(prepared);

  assert.equal((await call('vms.get', { id: vm.id })).state, 'suspended');
  assert.equal((await call('vms.list', undefined)).vms[0]?.state, 'suspended');
  assert.equal((await call('snapshots.list', { id: vm.id })).suspended, true);
  const again = await expectRequestError(call('vms.suspend', { id: vm.id }), 'invalid-state');
  assert.match(again.message, /already suspended/);

  // The saved state goes before the (here impossible) start.
  await expectRequestError(
    call('vms.start', { id: vm.id, discardSuspended: true }),
    'start-failed',
  );
  assert.equal((await call('snapshots.list', { id: vm.id })).suspended, false);
  assert.notEqual((await call('vms.get', { id: vm.id })).state, 'suspended');
});

test('vms.changed reports a VM suspended by another process', async (t) => {
  const { addon, open, vm } = await setUp(t);
  const services = createAppServices({
    appVersion: '0.1.0',
    env: {},
    loadNativeAddon: () => addon,
    openVmServices: open,
    changeFeed: { intervalMs: 50 },
  });
  t.after(() => services.close());
  const states: string[] = [];
  const subscription = await services.subscriptions['vms.changed'].open(undefined, {
    event: (list) => states.push(list.vms[0]?.state ?? 'none'),
    end: () => assert.fail('no end'),
  });
  t.after(() => subscription.close());
  const until = async (done: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!done()) {
      assert.ok(Date.now() < deadline, `timed out; states ${states.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  await until(() => states.length === 1);
  assert.equal(states[0], 'off');
  const elsewhere = await open();
  const store = await new VmSnapshots(elsewhere, () => addon).openStore(
    await elsewhere.library.get(vm.id),
  );
  const prepared = await store.prepareSuspend();
  await writeFile(prepared.stateFile, 'state');
  await writeFile(prepared.ramFile, 'ram');
  await store.commitSuspend(prepared);
  await until(() => states.at(-1) === 'suspended');
});

/** Beyond Linux's largest pid_max: a VM host process that is surely gone. */
const GONE_PID = 2 ** 22 + 1;

/**
 * A running VM's host as its clients see it: `progress` goes to every connection (as the real
 * host broadcasts it), `suspend` saves then ends the host, snapshot calls answer from a tree.
 */
class FakeHost {
  suspended = false;
  readonly calls: string[] = [];
  readonly #clients = new Set<ReturnType<FakeHost['connect']>>();
  readonly tree = {
    nodes: [
      {
        id: '5b0c0a3f-1d2e-4f30-8a4b-5c6d7e8f9a0b',
        parentId: null,
        name: 'Running',
        description: '',
        createdAt: '2025-02-01T10:00:00.000Z',
        kind: 'memory' as const,
        thumbnail: true,
        protectedBy: ['6c1d0a3f-1d2e-4f30-8a4b-5c6d7e8f9a0b'],
        children: [],
      },
    ],
    roots: ['5b0c0a3f-1d2e-4f30-8a4b-5c6d7e8f9a0b'],
    currentId: '5b0c0a3f-1d2e-4f30-8a4b-5c6d7e8f9a0b',
    retainedLayers: 0,
    diskProblem: null,
    suspended: false,
  };

  connect() {
    const listeners = new Map<string, ((data: unknown) => void)[]>();
    let end!: (error: VmHostError | undefined) => void;
    const client = {
      isOpen: true,
      closed: new Promise<VmHostError | undefined>((resolve) => (end = resolve)),
      on: (event: string, listener: (data: unknown) => void) => {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return () => undefined;
      },
      emit: (event: string, data: unknown) => {
        for (const listener of listeners.get(event) ?? []) listener(data);
      },
      call: async (method: string) => this.#call(method),
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

  async #call(method: string): Promise<unknown> {
    this.calls.push(method);
    switch (method) {
      case 'snapshotList':
        return this.tree;
      case 'snapshotDelete':
        throw new VmHostError('snapshot-error', 'Snapshot "Running" cannot be deleted: …');
      case 'suspend':
        for (const done of [1, 2]) {
          for (const client of this.#clients) {
            client.emit('progress', { operation: 'suspend', done, total: 2 });
          }
        }
        this.suspended = true;
        // Then the host powers the VM off and exits.
        setImmediate(() => {
          for (const client of [...this.#clients]) client.destroy();
        });
        return {};
    }
    throw new Error(`unexpected call ${method}`);
  }
}

/**
 * The services of setUp's library, with VM hosts answered by a fake registry (`status`,
 * `connect`) instead of real host processes.
 */
function servicesWithFakeHosts(
  t: { after(fn: () => Promise<void> | void): void },
  addon: NativeAddon,
  open: Awaited<ReturnType<typeof setUp>>['open'],
  registry: { status: () => Promise<unknown>; connect: () => Promise<unknown> },
) {
  const services = createAppServices({
    appVersion: '0.1.0',
    env: {},
    loadNativeAddon: () => addon,
    openVmServices: async () => ({
      ...(await open()),
      registry: registry as unknown as VmHostRegistry,
    }),
  });
  t.after(() => services.close());
  const call = <C extends RequestChannel>(channel: C, request: RequestOf<C>) =>
    dispatchRequest(services.handlers, channel, request) as Promise<ResponseOf<C>>;
  return { services, call };
}

test('vms.suspend and vm.progress through a running VM host (a fake one)', async (t) => {
  const { addon, open, vm } = await setUp(t);
  const host = new FakeHost();
  const { services, call } = servicesWithFakeHosts(t, addon, open, {
    status: async () =>
      host.suspended ? { state: 'suspended' } : { state: 'running', pid: GONE_PID },
    connect: async () => host.connect(),
  });

  // Snapshots of a running VM are its host's; its refusals keep their message.
  assert.deepEqual(await call('snapshots.list', { id: vm.id }), host.tree);
  const snapshot = host.tree.nodes[0]?.id ?? '';
  const refused = await expectRequestError(
    call('snapshots.delete', { id: vm.id, snapshot }),
    'snapshot-refused',
  );
  assert.match(refused.message, /"Alpine": Snapshot "Running" cannot be deleted/);
  await expectRequestError(
    call('vms.clone', { id: vm.id, name: 'Copy' }),
    'vm-running',
    'a running VM clones only from a snapshot',
  );

  const progress: unknown[] = [];
  const ends: unknown[] = [];
  await services.subscriptions['vm.progress'].open(
    { id: vm.id },
    { event: (event) => progress.push(event), end: (end) => ends.push(end) },
  );
  const status = await call('vms.suspend', { id: vm.id });
  assert.deepEqual(status, { id: vm.id, state: 'suspended' });
  assert.ok(host.calls.includes('suspend'));
  assert.deepEqual(progress, [
    { operation: 'suspend', done: 1, total: 2 },
    { operation: 'suspend', done: 2, total: 2 },
  ]);
  assert.deepEqual(ends, [{ reason: 'vm-stopped' }]);
});

test('a VM that stops under a snapshot list is listed from its folder; a take is not redone', async (t) => {
  const { addon, open, vm, call: callOff } = await setUp(t);
  // A disk snapshot taken while off, so the folder's tree is not empty.
  const taken = await callOff('snapshots.take', { id: vm.id, name: 'Cold' });
  let running = true;
  const calls: string[] = [];
  const stopping = {
    close: async () => undefined,
    on: () => () => undefined,
    // The host is shutting down: it refuses, and the VM is off from then on.
    call: async (method: string) => {
      calls.push(method);
      running = false;
      throw new VmHostError('shutting-down', 'the VM has stopped');
    },
  };
  const { call } = servicesWithFakeHosts(t, addon, open, {
    status: async () => (running ? { state: 'running', pid: GONE_PID } : { state: 'off' }),
    connect: async () => stopping,
  });

  const listed = await call('snapshots.list', { id: vm.id });
  assert.deepEqual(calls, ['snapshotList']);
  assert.deepEqual(
    listed.nodes.map((node) => node.id),
    [taken.snapshot.id],
  );

  // A take asked of the running VM is not turned into a disk-only take of the stopped one.
  running = true;
  await expectRequestError(call('snapshots.take', { id: vm.id, name: 'Hot' }), 'not-running');
  assert.deepEqual(calls, ['snapshotList', 'snapshotTake']);
  assert.deepEqual(
    (await call('snapshots.list', { id: vm.id })).nodes.map((node) => node.name),
    ['Cold'],
  );
});

test('snapshots.delete is a job with progress, cancellable while the VM is off', async (t) => {
  const { addon, call, vm, services } = await setUp(t);
  const first = await call('snapshots.take', { id: vm.id, name: 'First' });
  // 8 MiB of data in the overlay the second snapshot freezes: its merge has that to copy.
  const tree = JSON.parse(
    await readFile(path.join(vm.folder, 'snapshots', 'tree.json'), 'utf8'),
  ) as { current: { overlays: string[] } };
  const overlay = path.join(vm.folder, 'snapshots', tree.current.overlays[0] ?? '');
  await addon.imageWrite(overlay, 0, new Uint8Array(8 << 20).fill(0x5a));
  const second = await call('snapshots.take', { id: vm.id, name: 'Second' });

  // Cancelled as soon as the job shows: the request fails with the cancel, nothing changed.
  const deleting = call('snapshots.delete', { id: vm.id, snapshot: second.snapshot.id });
  let job = services.jobs.list().find((j) => j.kind === 'snapshot-delete');
  while (!job) {
    await new Promise((resolve) => setImmediate(resolve));
    job = services.jobs.list().find((j) => j.kind === 'snapshot-delete');
  }
  assert.equal(job.cancellable, true);
  await call('jobs.cancel', { id: job.id });
  const error = await expectRequestError(deleting, 'invalid-state');
  assert.match(error.message, /cancelled/);
  assert.equal(services.jobs.get(job.id)?.state, 'cancelled');
  let listed = await call('snapshots.list', { id: vm.id });
  assert.deepEqual(
    listed.nodes.map((node) => node.id),
    [first.snapshot.id, second.snapshot.id],
  );

  // Again, to the end: progress in bytes of the merged disk, done = total.
  const deleted = await call('snapshots.delete', { id: vm.id, snapshot: second.snapshot.id });
  assert.ok(deleted.freedBytes >= 8 << 20, `freed ${deleted.freedBytes}`);
  const done = services.jobs
    .list()
    .filter((j) => j.kind === 'snapshot-delete')
    .at(-1);
  assert.equal(done?.state, 'done');
  assert.equal(done?.total, 2 ** 26);
  assert.equal(done?.done, 2 ** 26);
  listed = await call('snapshots.list', { id: vm.id });
  assert.deepEqual(
    listed.nodes.map((node) => node.id),
    [first.snapshot.id],
  );
});
