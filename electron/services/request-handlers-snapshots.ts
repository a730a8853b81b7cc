/**
 * What the snapshot channels of the contract do: VmSnapshots (vm-host/vm-snapshots.ts) on a
 * library VM, which asks the VM's host while it runs and opens the tree here while it is off.
 * Snapshots are named by id on the wire; each one is looked up in the VM's tree first, so an
 * unknown id is 'snapshot-not-found' whichever of the two answers. Payloads arrive validated
 * (request-handlers-validation.ts).
 */
import { readFile } from 'node:fs/promises';
import type { RequestOf, ResponseOf } from '../common/contract.ts';
import type { SnapshotNode } from '../common/snapshot-types.ts';
import type { LibraryVm } from './library/vm-library.ts';
import { RequestError } from './request-error.ts';
import { getVm, runJob, withErrors, type VmActionContext } from './request-handlers-vms.ts';
import { SnapshotLayout } from './snapshots/snapshot-layout.ts';
import { isActive } from './vm-host/vm-host-registry.ts';
import { VmSnapshots } from './vm-host/vm-snapshots.ts';

function snapshotsOf({ services, addon }: VmActionContext): VmSnapshots {
  return new VmSnapshots(services, addon);
}

/** The snapshot with this id in the VM's tree; 'snapshot-not-found' otherwise. */
async function findSnapshot(
  snapshots: VmSnapshots,
  vm: LibraryVm,
  snapshot: string,
): Promise<SnapshotNode> {
  const tree = await withErrors(() => snapshots.list(vm), vm);
  const node = tree.nodes.find((candidate) => candidate.id === snapshot);
  if (!node) {
    throw new RequestError(
      'snapshot-not-found',
      `"${vm.config.name}" has no snapshot ${snapshot} (snapshots.list shows them).`,
    );
  }
  return node;
}

export async function listSnapshots(
  context: VmActionContext,
  { id }: RequestOf<'snapshots.list'>,
): Promise<ResponseOf<'snapshots.list'>> {
  const vm = await getVm(context.services, id);
  return withErrors(() => snapshotsOf(context).list(vm), vm);
}

export async function snapshotThumbnail(
  context: VmActionContext,
  { id, snapshot }: RequestOf<'snapshots.thumbnail'>,
): Promise<ResponseOf<'snapshots.thumbnail'>> {
  const vm = await getVm(context.services, id);
  const node = await findSnapshot(snapshotsOf(context), vm, snapshot);
  const missing = () =>
    new RequestError(
      'not-found',
      `Snapshot "${node.name}" of "${vm.config.name}" has no thumbnail` +
        (node.kind === 'disk' ? ' (it was taken with the VM off).' : '.'),
    );
  if (!node.thumbnail) throw missing();
  // `snapshot` is a validated UUID and a node of the tree: the path stays in snapshots/.
  const file = new SnapshotLayout(vm.folder).snapshotFiles(node.id).thumbnailFile;
  let png: Buffer;
  try {
    png = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missing();
    throw error;
  }
  return { mimeType: 'image/png', base64: png.toString('base64') };
}

export async function takeSnapshot(
  context: VmActionContext,
  { id, name, description }: RequestOf<'snapshots.take'>,
): Promise<ResponseOf<'snapshots.take'>> {
  const vm = await getVm(context.services, id);
  const label = `Snapshot “${name}” of “${vm.config.name}”`;
  // Progress: the RAM the VM host saves (its `progress` events, as vm.progress forwards them).
  return runJob(context, 'snapshot-take', { vmId: vm.id, label }, (job) =>
    withErrors(
      () =>
        snapshotsOf(context).take(vm, name, {
          ...(description === undefined ? {} : { description }),
          onProgress: (done, total) => job.progress(done, total),
        }),
      vm,
    ),
  );
}

export async function revertSnapshot(
  context: VmActionContext,
  { id, snapshot }: RequestOf<'snapshots.revert'>,
): Promise<ResponseOf<'snapshots.revert'>> {
  const vm = await getVm(context.services, id);
  const snapshots = snapshotsOf(context);
  const node = await findSnapshot(snapshots, vm, snapshot);
  const label = `Revert “${vm.config.name}” to “${node.name}”`;
  return runJob(context, 'snapshot-revert', { vmId: vm.id, label }, () =>
    withErrors(() => snapshots.revert(vm, node.id), vm),
  );
}

export async function deleteSnapshot(
  context: VmActionContext,
  { id, snapshot }: RequestOf<'snapshots.delete'>,
): Promise<ResponseOf<'snapshots.delete'>> {
  const vm = await getVm(context.services, id);
  const snapshots = snapshotsOf(context);
  const node = await findSnapshot(snapshots, vm, snapshot);
  const label = `Delete snapshot “${node.name}” of “${vm.config.name}”`;
  // Progress: bytes of the layer merges. Cancellable while the VM is off (the store stops
  // before it commits, leaving the tree as it was); a running VM's host runs it to the end.
  const running = isActive((await context.services.registry.status(vm)).state);
  return runJob(context, 'snapshot-delete', { vmId: vm.id, label, cancellable: !running }, (job) =>
    withErrors(
      () =>
        snapshots.delete(vm, node.id, {
          onProgress: (done, total) => job.progress(done, total),
          signal: job.signal,
        }),
      vm,
    ),
  );
}

export async function renameSnapshot(
  context: VmActionContext,
  { id, snapshot, name, description }: RequestOf<'snapshots.rename'>,
): Promise<ResponseOf<'snapshots.rename'>> {
  const vm = await getVm(context.services, id);
  const snapshots = snapshotsOf(context);
  const node = await findSnapshot(snapshots, vm, snapshot);
  return withErrors(
    () =>
      snapshots.rename(vm, node.id, {
        ...(name !== undefined ? { name } : {}),
        ...(description !== undefined ? { description } : {}),
      }),
    vm,
  );
}
