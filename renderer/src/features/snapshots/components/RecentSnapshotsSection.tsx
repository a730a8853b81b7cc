import { useMemo } from 'react';
import { InlineCode } from '../../../components/InlineCode.tsx';
import type { SnapshotsApi } from '../api/snapshots-api.ts';
import { useSnapshotTree } from '../hooks/use-snapshot-tree.ts';
import { RecentSnapshots } from './RecentSnapshots.tsx';

interface RecentSnapshotsSectionProps {
  vmId: string;
  /** The VM's run state: the list is read again when it changes. */
  vmState: string;
  api: SnapshotsApi;
  managerHref: string;
}

/** The summary page's "Recent snapshots", read from the services. */
export function RecentSnapshotsSection({
  vmId,
  vmState,
  api,
  managerHref,
}: RecentSnapshotsSectionProps) {
  const { tree, error } = useSnapshotTree(api, vmId, vmState);
  const nodes = useMemo(() => tree?.nodes ?? [], [tree]);
  if (!tree) {
    return error ? (
      <p className="snapshots__empty">
        Couldn’t read the snapshots: <InlineCode text={error.message} />{' '}
        <a href={managerHref}>Open the snapshot manager</a>
      </p>
    ) : (
      <p className="loading-text">Reading the snapshots…</p>
    );
  }
  return <RecentSnapshots nodes={nodes} currentId={tree.currentId} managerHref={managerHref} />;
}
