/**
 * The snapshot tree as the manager shows it: snapshots nested under their parents, oldest
 * first, and the "you are here" node under the snapshot the VM now runs from (at the top when
 * it runs from none), as in VMware's Snapshot Manager.
 */

export type SnapshotKind = 'memory' | 'disk';

export interface SnapshotNode {
  id: string;
  /** null: taken from the VM's first state. */
  parentId: string | null;
  name: string;
  description: string;
  /** ISO 8601. */
  createdAt: string;
  /** memory: the running machine too (revert resumes it); disk: the disks only (revert boots). */
  kind: SnapshotKind;
  thumbnailUrl?: string;
  /** What deleting it would free, when the services know. */
  reclaimableBytes?: number;
  /** Linked clones built on it: while there are any, it cannot be deleted. */
  protectedBy?: readonly string[];
}

export const HERE_ID = '\u0000you-are-here';

export interface TreeItem {
  /** A snapshot's id, or HERE_ID for "you are here". */
  id: string;
  snapshot: SnapshotNode | null;
  children: TreeItem[];
}

export function buildSnapshotTree(
  nodes: readonly SnapshotNode[],
  currentId: string | null,
): TreeItem[] {
  const items = new Map<string, TreeItem>();
  for (const node of nodes) items.set(node.id, { id: node.id, snapshot: node, children: [] });
  const roots: TreeItem[] = [];
  for (const node of nodes) {
    const item = items.get(node.id) as TreeItem;
    const parent = node.parentId === null ? undefined : items.get(node.parentId);
    // A parent that is not listed (or the node itself): show it at the top rather than lose it.
    if (parent && parent !== item) parent.children.push(item);
    else roots.push(item);
  }
  const byDate = (a: TreeItem, b: TreeItem) =>
    (a.snapshot?.createdAt ?? '').localeCompare(b.snapshot?.createdAt ?? '');
  const sortAll = (list: TreeItem[]) => {
    list.sort(byDate);
    for (const item of list) sortAll(item.children);
  };
  sortAll(roots);
  const here: TreeItem = { id: HERE_ID, snapshot: null, children: [] };
  const current = currentId === null ? undefined : items.get(currentId);
  if (current) current.children.push(here);
  else roots.push(here);
  return roots;
}

export interface VisibleItem {
  item: TreeItem;
  level: number;
  parentId: string | null;
  /** 1-based position among its siblings, and how many siblings it has. */
  position: number;
  setSize: number;
}

/** The items a reader can reach now, top to bottom: children of collapsed items are left out. */
export function visibleItems(
  roots: readonly TreeItem[],
  expanded: ReadonlySet<string>,
): VisibleItem[] {
  const out: VisibleItem[] = [];
  const walk = (list: readonly TreeItem[], level: number, parentId: string | null) => {
    list.forEach((item, index) => {
      out.push({ item, level, parentId, position: index + 1, setSize: list.length });
      if (item.children.length > 0 && expanded.has(item.id))
        walk(item.children, level + 1, item.id);
    });
  };
  walk(roots, 1, null);
  return out;
}

/** Every id with children: the tree starts fully open. */
export function expandableIds(roots: readonly TreeItem[]): string[] {
  const ids: string[] = [];
  const walk = (list: readonly TreeItem[]) => {
    for (const item of list) {
      if (item.children.length > 0) ids.push(item.id);
      walk(item.children);
    }
  };
  walk(roots);
  return ids;
}
