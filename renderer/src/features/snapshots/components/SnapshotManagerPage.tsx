import { useMemo, useState } from 'react';
import { Button } from '../../../components/Button.tsx';
import { formatBytes } from '../../../components/format.ts';
import { AlertIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import type {
  SnapshotDeleteResult,
  SnapshotRevertResult,
  SnapshotsApi,
  SnapshotTakeResult,
} from '../api/snapshots-api.ts';
import { useSnapshotThumbnails, useSnapshotTree } from '../hooks/use-snapshot-tree.ts';
import type { SnapshotNode } from '../utils/snapshot-tree.ts';
import { SnapshotTreeView } from './SnapshotTreeView.tsx';
import './snapshots.css';

interface SnapshotManagerPageProps {
  vmId: string;
  vmName: string;
  /**
   * The VM's run state as the library reports it ('running', 'off', 'suspended'…): the tree
   * is read again when it changes, and what a take or a revert does depends on it.
   */
  vmState: string;
  api: SnapshotsApi;
  /** The VM's summary page. */
  backHref: string;
  /** Ask before reverting (preferences: confirmations.revertSnapshot). */
  confirmRevert?: boolean;
  /** A new VM from a snapshot; the action is left out without it. */
  onClone?: (snapshot: SnapshotNode) => void;
  /** After an action that may have changed the VM's run state (a revert). */
  onVmChanged?: () => void;
}

/** A VM's snapshots: the tree with "you are here", and take, revert, rename, delete, clone. */
export function SnapshotManagerPage({
  vmId,
  vmName,
  vmState,
  api,
  backHref,
  confirmRevert = true,
  onClone,
  onVmChanged,
}: SnapshotManagerPageProps) {
  const { tree, error, reload } = useSnapshotTree(api, vmId, vmState);
  const wireNodes = useMemo(() => tree?.nodes ?? [], [tree]);
  const thumbnailOf = useSnapshotThumbnails(api, vmId, wireNodes);
  const nodes = useMemo<SnapshotNode[]>(
    () =>
      wireNodes.map((node) => ({
        id: node.id,
        parentId: node.parentId,
        name: node.name,
        description: node.description,
        createdAt: node.createdAt,
        kind: node.kind,
        protectedBy: node.protectedBy,
        thumbnailUrl: thumbnailOf(node.id),
      })),
    [wireNodes, thumbnailOf],
  );
  const [progress, setProgress] = useState<{ label: string; fraction: number | null } | null>(null);
  const running = vmState === 'running' || vmState === 'paused';

  /** Runs a change, then shows the tree as it is now (also when the change failed). */
  async function change<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } finally {
      await reload();
    }
  }

  async function take(snapshot: { name: string; description: string }) {
    // A running VM saves its RAM: follow it (subscribed before asking, closed after).
    const stop = running
      ? api.watchProgress?.(vmId, ({ operation, done, total }) => {
          // The host reports every long operation (another client's delete too): only the take's.
          if (operation !== 'take') return;
          setProgress({ label: 'Saving memory…', fraction: total > 0 ? done / total : null });
        })
      : undefined;
    try {
      const result = await change(() =>
        api.take(vmId, {
          name: snapshot.name,
          ...(snapshot.description.trim() ? { description: snapshot.description } : {}),
        }),
      );
      return { message: takeMessage(result) };
    } finally {
      stop?.();
      setProgress(null);
    }
  }

  async function revert(id: string) {
    try {
      const result = await change(() => api.revert(vmId, id));
      return { message: revertMessage(result) };
    } finally {
      onVmChanged?.();
    }
  }

  async function remove(id: string) {
    const result = await change(() => api.remove(vmId, id));
    return { message: deleteMessage(result) };
  }

  return (
    <div className="snapshot-page">
      <title>{`Snapshots of ${vmName} · Nestbox`}</title>
      <div className="snapshot-page__header">
        <h1 className="page-title" tabIndex={-1}>
          Snapshots of {vmName}
        </h1>
        <a href={backHref}>Back to summary</a>
      </div>

      {error && (
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <div>
            <p className="inline-alert__title">Couldn’t read the snapshots</p>
            <p>
              <InlineCode text={error.message} />
            </p>
          </div>
          <Button onClick={() => void reload()}>Retry</Button>
        </div>
      )}
      {tree?.diskProblem && (
        <div className="inline-alert inline-alert--warning">
          <AlertIcon />
          <p>
            <InlineCode text={tree.diskProblem} />
          </p>
        </div>
      )}
      {tree?.suspended && (
        <div className="inline-alert inline-alert--info">
          <AlertIcon />
          <p>
            {vmName} is suspended: starting it resumes from its saved state. Reverting replaces that
            state.
          </p>
        </div>
      )}

      {!tree && !error && (
        <p className="loading-text" aria-busy="true">
          Reading the snapshots…
        </p>
      )}
      {tree && (
        <SnapshotTreeView
          nodes={nodes}
          currentId={tree.currentId}
          onTake={take}
          onRevert={revert}
          onDelete={remove}
          onRename={(id, name) => change(() => api.rename(vmId, id, name))}
          onClone={onClone}
          progress={progress}
          confirmRevert={confirmRevert}
          vmRunning={running}
        />
      )}
    </div>
  );
}

function takeMessage(result: SnapshotTakeResult): string {
  return result.withMemory
    ? 'It holds the running machine (memory and devices) and its disks.'
    : 'The VM was off, so it holds the disks.';
}

function revertMessage(result: SnapshotRevertResult): string {
  switch (result.state) {
    case 'suspended':
      return 'The VM is suspended at the snapshot: Resume continues from the moment it was taken.';
    case 'stopped':
      return 'The snapshot holds only the disks, so the VM was powered off.';
    case 'off':
      return 'The VM is off and boots from the snapshot’s disks when you start it.';
    case 'running':
      return 'The VM runs on from the snapshot.';
  }
}

function deleteMessage(result: SnapshotDeleteResult): string {
  let message = `Freed ${formatBytes(result.freedBytes)}.`;
  if (result.retainedLayers > 0) {
    message += ' Its disk changes are merged once the VM is off.';
  }
  if (result.collectProblem) {
    message += ` Merging stopped early: ${result.collectProblem}`;
  }
  return message;
}
