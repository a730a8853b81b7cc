import { formatDateTime } from '../../../components/format.ts';
import type { SnapshotNode } from '../utils/snapshot-tree.ts';
import './snapshots.css';

interface RecentSnapshotsProps {
  nodes: readonly SnapshotNode[];
  currentId: string | null;
  /** The snapshot manager of this VM. */
  managerHref: string;
  /** How many to list, newest first. */
  limit?: number;
}

/** The newest snapshots, for a VM's summary page. */
export function RecentSnapshots({
  nodes,
  currentId,
  managerHref,
  limit = 3,
}: RecentSnapshotsProps) {
  const newest = [...nodes].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  return (
    <div className="recent-snapshots">
      {newest.length === 0 ? (
        <p className="snapshots__empty">No snapshots yet.</p>
      ) : (
        <ul className="recent-snapshots__list">
          {newest.map((node) => (
            <li key={node.id} className="recent-snapshots__item">
              <span className="snapshot-row__name">{node.name}</span>
              <span className="snapshot-row__meta">
                {formatDateTime(node.createdAt)}
                {node.id === currentId ? ' · you are here' : ''}
              </span>
            </li>
          ))}
        </ul>
      )}
      <a href={managerHref}>
        {nodes.length > limit ? `All ${nodes.length} snapshots` : 'Manage snapshots'}
      </a>
    </div>
  );
}
