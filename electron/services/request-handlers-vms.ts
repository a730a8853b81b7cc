/**
 * What the VM channels of the contract do, on the library and the VM hosts: the same
 * operations as the `nestbox` VM commands, answering with contract types and RequestErrors.
 * Payloads arrive validated (request-handlers-validation.ts).
 */
import { open, stat } from 'node:fs/promises';
import type { RequestOf, ResponseOf } from '../common/contract.ts';
import type { VmDetails, VmRunStatus } from '../common/vm-details.ts';
import type { JobKind } from '../common/jobs.ts';
import type { JobContext, JobOptions, JobRegistry } from './jobs/job-registry.ts';
import type { VmDisk } from './library/vm-config.ts';
import { LibraryError } from './library/library-error.ts';
import type { CreateVmSpec, LibraryVm } from './library/vm-library.ts';
import { RequestError } from './request-error.ts';
import { toRequestError, type HostConnections } from './request-handlers-connections.ts';
import type { MachineState, NativeAddon } from './native/native-addon.ts';
import { cloneVm as cloneLibraryVm, prepareToDeleteVm } from './vm-host/vm-clone.ts';
import type { VmHostClient } from './vm-host/vm-host-client.ts';
import { isHostProcessAlive } from './vm-host/runtime-files.ts';
import { isActive, type VmRunState } from './vm-host/vm-host-registry.ts';
import type { VmServices } from './vm-host/vm-services.ts';
import { VmSnapshots } from './vm-host/vm-snapshots.ts';

/** After a forced power off, how long the host may take to clean up and exit. */
const FORCE_WAIT_MS = 15_000;
const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb"

export interface VmActionContext {
  services: VmServices;
  connections: HostConnections;
  /** The native core, for snapshots and clones (disk layers, copies); loaded on first use. */
  addon: () => NativeAddon;
  /** Where long operations are recorded as jobs (jobs.list); without it they just run. */
  jobs?: JobRegistry;
}

/** Runs `work` as a job of `context.jobs` (or plainly, without a registry). */
export function runJob<T>(
  context: VmActionContext,
  kind: JobKind,
  options: JobOptions,
  work: (job: JobContext) => Promise<T>,
): Promise<T> {
  if (context.jobs) return context.jobs.run(kind, options, work);
  return work({ signal: new AbortController().signal, progress: () => undefined });
}

export async function withErrors<T>(task: () => Promise<T>, vm?: LibraryVm): Promise<T> {
  try {
    return await task();
  } catch (error) {
    throw toRequestError(error, vm);
  }
}

/** The VM with this id; 'not-found' or 'broken-vm' otherwise. */
export async function getVm(services: VmServices, id: string): Promise<LibraryVm> {
  return withErrors(() => services.library.get(id));
}

async function details(services: VmServices, vm: LibraryVm): Promise<VmDetails> {
  const status = await services.registry.status(vm);
  return {
    id: vm.id,
    folder: vm.folder,
    imported: vm.imported,
    config: vm.config,
    state: status.state,
    ...(status.pid !== undefined ? { pid: status.pid } : {}),
    ...(status.detail !== undefined ? { detail: status.detail } : {}),
    ...(status.lastExit !== undefined ? { lastExit: status.lastExit } : {}),
  };
}

async function runStatus(services: VmServices, vm: LibraryVm): Promise<VmRunStatus> {
  const status = await services.registry.status(vm);
  return {
    id: vm.id,
    state: status.state,
    ...(status.pid !== undefined ? { pid: status.pid } : {}),
    ...(status.lastExit !== undefined ? { lastExit: status.lastExit } : {}),
  };
}

function runStateOf(state: MachineState): VmRunState {
  return state === 'paused' ? 'paused' : state === 'running' ? 'running' : 'off';
}

/** qcow2 by its magic, raw otherwise (a bad qcow2 is reported when the VM starts). */
export async function detectDiskFormat(file: string): Promise<VmDisk['format']> {
  const handle = await open(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    return bytesRead === 4 && magic.equals(QCOW2_MAGIC) ? 'qcow2' : 'raw';
  } finally {
    await handle.close();
  }
}

/** The files a new VM names must exist: a typo is reported on its field, before anything is made. */
async function checkFilesExist(files: [field: string, file: string | undefined][]): Promise<void> {
  const issues: { path: string; message: string }[] = [];
  for (const [field, file] of files) {
    if (file === undefined) continue;
    try {
      if (!(await stat(file)).isFile())
        issues.push({ path: field, message: `${file} is not a file` });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      issues.push({
        path: field,
        message: code === 'ENOENT' ? `${file} does not exist` : `${file} cannot be read (${code})`,
      });
    }
  }
  if (issues.length > 0) {
    throw new RequestError(
      'bad-request',
      `The vms.create request is not valid:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`,
      { issues },
    );
  }
}

export async function createVm(
  context: VmActionContext,
  request: RequestOf<'vms.create'>,
): Promise<VmDetails> {
  const { services } = context;
  await checkFilesExist([
    ['kernel', request.kernel],
    ['initrd', request.initrd],
    ['disk.file', request.disk?.file],
  ]);
  const disks: VmDisk[] = request.disk
    ? [
        {
          file: request.disk.file,
          format: request.disk.format ?? (await detectDiskFormat(request.disk.file)),
          ...(request.disk.readOnly !== undefined ? { readOnly: request.disk.readOnly } : {}),
        },
      ]
    : [];
  const spec: CreateVmSpec = {
    name: request.name,
    ...(request.notes !== undefined ? { notes: request.notes } : {}),
    ...(request.guestOs !== undefined ? { guestOs: request.guestOs } : {}),
    boot: {
      kind: 'kernel',
      kernel: request.kernel,
      ...(request.initrd !== undefined ? { initrd: request.initrd } : {}),
      cmdline: request.append ?? '',
    },
    hardware: {
      ...(request.cpus !== undefined ? { cpus: request.cpus } : {}),
      ...(request.memoryMiB !== undefined ? { memoryMiB: request.memoryMiB } : {}),
      ...(disks.length > 0 ? { disks } : {}),
      ...(request.network !== undefined ? { network: request.network } : {}),
      ...(request.display !== undefined ? { display: request.display } : {}),
    },
    ...(request.newDisk !== undefined ? { newDisk: request.newDisk } : {}),
  };
  const create = () => withErrors(() => services.library.create(spec));
  // A new disk is made with the VM: a job, though a sparse one is quick. It has no VM id yet.
  const vm =
    request.newDisk === undefined
      ? await create()
      : await runJob(
          context,
          'disk-create',
          { vmId: '', label: `New disk for “${request.name}”` },
          create,
        );
  return details(services, vm);
}

/**
 * "Open a virtual machine": adds a VM folder from elsewhere to the library, where it stays.
 * What the library refuses becomes an error a dialog can show: a folder that is not a VM (or
 * not there, or a copy of one in the library) on the `folder` field; a broken vm.json with
 * each of its problems; a folder that is in the library already as `already-in-library`.
 */
export async function importVm(
  { services }: VmActionContext,
  { folder }: RequestOf<'vms.import'>,
): Promise<VmDetails> {
  let vm: LibraryVm;
  try {
    vm = await services.library.import(folder);
  } catch (error) {
    throw importError(error);
  }
  return details(services, vm);
}

function importError(error: unknown): unknown {
  if (!(error instanceof LibraryError)) return toRequestError(error);
  switch (error.code) {
    case 'not-found':
    case 'not-a-vm':
    case 'duplicate-id':
      return new RequestError('bad-request', error.message, {
        cause: error,
        issues: [{ path: 'folder', message: error.message }],
      });
    case 'broken-vm':
      // The issues' paths are vm.json's, not the request's: they go in the message.
      return new RequestError(
        'broken-vm',
        `${error.message}\nFix its vm.json (or restore it from a backup), then open the folder again.`,
        { cause: error },
      );
    default:
      return toRequestError(error);
  }
}

export async function getVmDetails(
  { services }: VmActionContext,
  { id }: RequestOf<'vms.get'>,
): Promise<VmDetails> {
  return details(services, await getVm(services, id));
}

export async function updateVm(
  { services }: VmActionContext,
  { id, patch }: RequestOf<'vms.update'>,
): Promise<VmDetails> {
  return details(services, await withErrors(() => services.library.update(id, patch)));
}

export async function renameVm(
  { services }: VmActionContext,
  { id, name }: RequestOf<'vms.rename'>,
): Promise<VmDetails> {
  return details(services, await withErrors(() => services.library.rename(id, name)));
}

export async function deleteVm(
  { services, addon }: VmActionContext,
  request: RequestOf<'vms.delete'>,
): Promise<ResponseOf<'vms.delete'>> {
  const permanently = request.permanently ?? false;
  if ('id' in request) {
    const vm = await getVm(services, request.id);
    // A host that died leaves its socket in the runtime folder; take it along.
    await services.registry.clearDeadHost(vm);
    await withErrors(
      () => prepareToDeleteVm(services.library, new VmSnapshots(services, addon), vm),
      vm,
    );
    return withErrors(() => services.library.delete({ id: vm.id }, { permanently }), vm);
  }
  return withErrors(() => services.library.delete({ folder: request.folder }, { permanently }));
}

export async function startVm(
  { services, addon }: VmActionContext,
  { id, discardSuspended = false }: RequestOf<'vms.start'>,
): Promise<VmRunStatus> {
  const vm = await getVm(services, id);
  if (discardSuspended && (await services.registry.status(vm)).state === 'suspended') {
    await withErrors(async () => {
      const store = await new VmSnapshots(services, addon).openStore(vm);
      await store.clearResume();
    }, vm);
  }
  const started = await withErrors(() => services.registry.start(vm), vm);
  return { id: vm.id, state: 'running', pid: started.pid };
}

/** Runs `act` on the VM's host; 'not-running' when there is none. */
async function onHost<T>(
  { services, connections }: VmActionContext,
  id: string,
  act: (client: VmHostClient, vm: LibraryVm) => Promise<T>,
): Promise<T> {
  const vm = await getVm(services, id);
  return withErrors(() => connections.use(services, vm, (client) => act(client, vm)), vm);
}

/** A wait that does not keep the process alive. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await delay(20);
}

export async function stopVm(
  context: VmActionContext,
  { id, force = false }: RequestOf<'vms.stop'>,
): Promise<VmRunStatus> {
  const { services } = context;
  const vm = await getVm(services, id);
  const status = await services.registry.status(vm);
  if (status.state === 'off' || status.state === 'crashed') return runStatus(services, vm);
  if (status.state === 'unresponsive') {
    if (!force || status.pid === undefined) {
      throw new RequestError(
        'host-unresponsive',
        `"${vm.config.name}": ${status.detail ?? 'its VM host does not answer'}. Stopping it with force kills it.`,
      );
    }
    const pid = status.pid;
    process.kill(pid, 'SIGKILL');
    await until(() => !isHostProcessAlive(pid), FORCE_WAIT_MS);
    return runStatus(services, vm);
  }
  if (force) {
    await onHost(context, vm.id, async (client) => {
      await client.call('powerOff');
      await Promise.race([client.closed, delay(FORCE_WAIT_MS)]);
    });
    return runStatus(services, vm);
  }
  return onHost(context, vm.id, async (client) => {
    // A paused guest cannot see the button.
    if ((await client.call('status')).state === 'paused') await client.call('resume');
    await client.call('powerButton');
    return { id: vm.id, state: 'running' as const, shutdownRequested: true };
  });
}

export async function pauseVm(
  context: VmActionContext,
  { id }: RequestOf<'vms.pause'>,
): Promise<VmRunStatus> {
  return onHost(context, id, async (client, vm) => ({
    id: vm.id,
    state: runStateOf((await client.call('pause')).state),
  }));
}

export async function resumeVm(
  context: VmActionContext,
  { id }: RequestOf<'vms.resume'>,
): Promise<VmRunStatus> {
  return onHost(context, id, async (client, vm) => ({
    id: vm.id,
    state: runStateOf((await client.call('resume')).state),
  }));
}

export async function resetVm(
  context: VmActionContext,
  { id }: RequestOf<'vms.reset'>,
): Promise<VmRunStatus> {
  return onHost(context, id, async (client, vm) => {
    await client.call('reset');
    return { id: vm.id, state: runStateOf((await client.call('status')).state) };
  });
}

export async function screenshotVm(
  context: VmActionContext,
  { id }: RequestOf<'vms.screenshot'>,
): Promise<ResponseOf<'vms.screenshot'>> {
  return onHost(context, id, async (client) => {
    const png = await client.call('screenshot');
    return {
      mimeType: 'image/png',
      base64: Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64'),
    };
  });
}

export async function sendKeys(
  context: VmActionContext,
  { id, codes }: RequestOf<'vms.sendKeys'>,
): Promise<ResponseOf<'vms.sendKeys'>> {
  return onHost(context, id, (client) => client.call('sendKeyCombo', { codes }));
}

export async function sendInput(
  context: VmActionContext,
  { id, events }: RequestOf<'vms.input'>,
): Promise<ResponseOf<'vms.input'>> {
  return onHost(context, id, async (client) => {
    // Sent back to back on one connection: the host handles them in this order.
    const results = await Promise.all(
      events.map((event) => {
        switch (event.type) {
          case 'key':
            return client.call('sendKey', { code: event.code, pressed: event.pressed });
          case 'pointerMove':
            return client.call('pointerMove', { x: event.x, y: event.y });
          case 'pointerButton':
            return client.call('pointerButton', { button: event.button, pressed: event.pressed });
          case 'wheel':
            return client.call('wheel', { dx: event.dx, dy: event.dy });
          case 'releaseAll':
            return client.call('releaseAllInput').then(() => ({ delivered: true }));
        }
        return Promise.resolve({ delivered: false });
      }),
    );
    return { delivered: results.filter((result) => result.delivered).length };
  });
}

export async function sendSerial(
  context: VmActionContext,
  request: RequestOf<'vms.sendSerial'>,
): Promise<ResponseOf<'vms.sendSerial'>> {
  const params = 'text' in request ? { text: request.text } : { base64: request.base64 };
  return onHost(context, request.id, (client) => client.call('sendSerial', params));
}

/** How a VM that cannot be suspended is, for the message. */
function notSuspendable(state: VmRunState): string {
  switch (state) {
    case 'suspended':
      return 'is already suspended';
    case 'crashed':
      return 'is not running (its VM host died)';
    default:
      return 'is off';
  }
}

export async function suspendVm(
  context: VmActionContext,
  { id }: RequestOf<'vms.suspend'>,
): Promise<VmRunStatus> {
  const { services } = context;
  const vm = await getVm(services, id);
  const status = await services.registry.status(vm);
  if (status.state === 'unresponsive') {
    throw new RequestError(
      'host-unresponsive',
      `"${vm.config.name}": ${status.detail ?? 'its VM host does not answer'}, so it cannot be suspended.`,
    );
  }
  if (!isActive(status.state)) {
    throw new RequestError(
      'invalid-state',
      `"${vm.config.name}" ${notSuspendable(status.state)}: only a running or paused VM can be suspended.`,
    );
  }
  await runJob(context, 'suspend', { vmId: vm.id, label: `Suspend “${vm.config.name}”` }, (job) =>
    onHost(context, vm.id, async (client) => {
      // The host reports the RAM it saves to every connection, this one too.
      const off = client.on('progress', (event) => job.progress(event.done, event.total));
      try {
        // Answers once the state is saved; then the host powers the VM off and exits.
        await client.call('suspend');
      } finally {
        off();
      }
      await Promise.race([client.closed, delay(FORCE_WAIT_MS)]);
    }),
  );
  const pid = status.pid;
  if (pid !== undefined) await until(() => !isHostProcessAlive(pid), FORCE_WAIT_MS);
  return runStatus(services, vm);
}

export async function cloneVm(
  context: VmActionContext,
  { id, name, linked, snapshot }: RequestOf<'vms.clone'>,
): Promise<VmDetails> {
  const { services, addon } = context;
  const source = await getVm(services, id);
  const sourceRunning = isActive((await services.registry.status(source)).state);
  if (sourceRunning && snapshot === undefined) {
    throw new RequestError(
      'vm-running',
      `"${source.config.name}" is running: power it off to clone its current state, or clone ` +
        'one of its snapshots.',
    );
  }
  const cloneJob = {
    vmId: source.id,
    label: `Clone “${source.config.name}” as “${name}”`,
    cancellable: true,
  };
  const clone = await runJob(context, 'clone', cloneJob, (job) =>
    withErrors(async () => {
      const snapshots = new VmSnapshots(services, addon);
      const store = await snapshots.openStore(source, { running: sourceRunning });
      return cloneLibraryVm(
        {
          library: services.library,
          addon,
          store,
          sourceRunning,
          protect: (snapshotId, cloneVmId) =>
            snapshots.protect(source, snapshotId, cloneVmId, true),
        },
        source,
        name,
        {
          ...(linked !== undefined ? { linked } : {}),
          ...(snapshot !== undefined ? { snapshot } : {}),
          onProgress: (done, total) => job.progress(done, total),
          signal: job.signal,
        },
      );
    }, source),
  );
  return details(services, clone);
}
