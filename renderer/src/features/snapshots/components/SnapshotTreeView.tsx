import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Button } from '../../../components/Button.tsx';
import { ConfirmDialog } from '../../../components/ConfirmDialog.tsx';
import { errorMessage, formatBytes, formatDateTime } from '../../../components/format.ts';
import {
  CameraIcon,
  ChevronIcon,
  CopyIcon,
  PencilIcon,
  TrashIcon,
  UndoIcon,
} from '../../../components/icons.tsx';
import { ProgressBar } from '../../../components/ProgressBar.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import {
  HERE_ID,
  buildSnapshotTree,
  expandableIds,
  visibleItems,
  type SnapshotNode,
  type VisibleItem,
} from '../utils/snapshot-tree.ts';
import { SnapshotNameDialog } from './SnapshotNameDialog.tsx';
import './snapshots.css';

export interface SnapshotTreeViewProps {
  nodes: readonly SnapshotNode[];
  /** The snapshot the VM runs from now ("you are here" hangs under it); null: none. */
  currentId: string | null;
  /*
   * Each action may resolve to `{ message }`: the success toast's detail (what was freed, the
   * state the VM was left in). A delete may instead resolve to `{ freedBytes }`.
   */
  onTake: (snapshot: { name: string; description: string }) => Promise<unknown>;
  onRevert: (id: string) => Promise<unknown>;
  onDelete: (id: string) => Promise<unknown>;
  onRename: (id: string, name: string) => Promise<unknown>;
  /** A new VM from the selected snapshot; the button is left out without it. */
  onClone?: (node: SnapshotNode) => void;
  /** A running job's progress as the services report it (0..1, null: unknown). */
  progress?: { label: string; fraction: number | null } | null;
  /** Ask before reverting (preferences: confirmations.revertSnapshot). */
  confirmRevert?: boolean;
  /** Whether the VM runs now: the revert confirmation says what happens (unknown: both). */
  vmRunning?: boolean;
}

type Dialog =
  | { kind: 'take' }
  | { kind: 'rename'; node: SnapshotNode }
  | { kind: 'revert'; node: SnapshotNode }
  | { kind: 'delete'; node: SnapshotNode };

/**
 * The snapshot manager: the tree of snapshots with "you are here", details of the selected
 * one, and take / revert / rename / delete. Keyboard: arrows move and open or close branches,
 * Home and End jump, F2 renames, Delete deletes, Enter reverts.
 */
export function SnapshotTreeView({
  nodes,
  currentId,
  onTake,
  onRevert,
  onDelete,
  onRename,
  onClone,
  progress,
  confirmRevert = true,
  vmRunning,
}: SnapshotTreeViewProps) {
  const toast = useToast();
  const roots = useMemo(() => buildSnapshotTree(nodes, currentId), [nodes, currentId]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const expanded = useMemo(
    () => new Set(expandableIds(roots).filter((id) => !collapsed.has(id))),
    [roots, collapsed],
  );
  const visible = useMemo(() => visibleItems(roots, expanded), [roots, expanded]);
  // Like VMware's manager, the tree opens on "you are here".
  const [selectedId, setSelectedId] = useState<string>(HERE_ID);
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [running, setRunning] = useState<string | null>(null);
  const itemRefs = useRef(new Map<string, HTMLLIElement>());
  const focusAfterMove = useRef(false);
  const treeLabelId = useId();

  // The selection may vanish (deleted, or hidden in a collapsed branch): fall back to "here".
  const selected =
    visible.find((entry) => entry.item.id === selectedId) ??
    visible.find((entry) => entry.item.id === HERE_ID) ??
    visible[0];
  const selectedNode = selected?.item.snapshot ?? null;
  const canDelete = (node: SnapshotNode | null): node is SnapshotNode =>
    node !== null && (node.protectedBy?.length ?? 0) === 0;
  const byId = useMemo(() => new Map(nodes.map((node) => [node.id, node])), [nodes]);

  useEffect(() => {
    if (!focusAfterMove.current || !selected) return;
    focusAfterMove.current = false;
    itemRefs.current.get(selected.item.id)?.focus();
  }, [selected]);

  function select(id: string, focus = true) {
    focusAfterMove.current = focus;
    setSelectedId(id);
  }

  function setOpen(id: string, open: boolean) {
    setCollapsed((current) => {
      const next = new Set(current);
      if (open) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  async function run(label: string, action: () => Promise<unknown>, done: string) {
    setDialog(null);
    setRunning(label);
    try {
      const result = await action();
      toast.notify({ tone: 'success', title: done, message: resultMessage(result) });
    } catch (error) {
      toast.notify({
        tone: 'error',
        title: `${label.replace(/…$/, '')} failed`,
        message: errorMessage(error),
      });
    } finally {
      setRunning(null);
    }
  }

  function revert(node: SnapshotNode) {
    if (confirmRevert) setDialog({ kind: 'revert', node });
    else void run('Reverting…', () => onRevert(node.id), `Reverted to ${node.name}`);
  }

  function onKeyDown(event: KeyboardEvent<HTMLUListElement>) {
    if (!selected || running) {
      if (running) event.preventDefault();
      return;
    }
    const index = visible.indexOf(selected);
    const { item } = selected;
    const hasChildren = item.children.length > 0;
    let handled = true;
    switch (event.key) {
      case 'ArrowDown':
      case 'ArrowUp': {
        const next = visible[index + (event.key === 'ArrowDown' ? 1 : -1)];
        if (next) select(next.item.id);
        break;
      }
      case 'Home':
      case 'End': {
        const edge = event.key === 'Home' ? visible[0] : visible.at(-1);
        if (edge) select(edge.item.id);
        break;
      }
      case 'ArrowRight': {
        const firstChild = item.children[0];
        if (hasChildren && !expanded.has(item.id)) setOpen(item.id, true);
        else if (firstChild) select(firstChild.id);
        break;
      }
      case 'ArrowLeft':
        if (hasChildren && expanded.has(item.id)) setOpen(item.id, false);
        else if (selected.parentId !== null) select(selected.parentId);
        break;
      case 'F2':
        if (item.snapshot) setDialog({ kind: 'rename', node: item.snapshot });
        break;
      case 'Delete':
        if (canDelete(item.snapshot)) setDialog({ kind: 'delete', node: item.snapshot });
        break;
      case 'Enter':
        if (item.snapshot) revert(item.snapshot);
        break;
      default:
        handled = false;
    }
    if (handled) event.preventDefault();
  }

  // A flat list of the visible items, each with its level, position and set size (which ARIA
  // allows for trees): an item's accessible name can then hold all of its visible text, which
  // an item wrapping its children's group could not.
  const rows = visible.map((entry) => (
    <TreeRow
      key={entry.item.id}
      entry={entry}
      selected={entry === selected}
      expanded={expanded.has(entry.item.id)}
      basedOn={entry.item.id === HERE_ID && currentId ? (byId.get(currentId)?.name ?? null) : null}
      itemRef={(node) => {
        if (node) itemRefs.current.set(entry.item.id, node);
        else itemRefs.current.delete(entry.item.id);
      }}
      onSelect={() => select(entry.item.id)}
      onFocusItem={() => {
        if (selectedId !== entry.item.id) select(entry.item.id, false);
      }}
      onToggle={() => setOpen(entry.item.id, !expanded.has(entry.item.id))}
    />
  ));

  const busy = running !== null;
  const shownProgress = progress ?? (running ? { label: running, fraction: null } : null);

  return (
    <div className="snapshots">
      <div className="snapshots__toolbar" role="toolbar" aria-label="Snapshot actions">
        <Button variant="primary" disabled={busy} onClick={() => setDialog({ kind: 'take' })}>
          <CameraIcon />
          Take snapshot…
        </Button>
        <Button
          disabled={busy || !selectedNode}
          onClick={() => selectedNode && revert(selectedNode)}
        >
          <UndoIcon />
          Revert…
        </Button>
        <Button
          disabled={busy || !selectedNode}
          onClick={() => selectedNode && setDialog({ kind: 'rename', node: selectedNode })}
        >
          <PencilIcon />
          Rename…
        </Button>
        {onClone && (
          <Button
            disabled={busy || !selectedNode}
            title="A new VM from this snapshot: a full copy, or a linked clone that shares its disks"
            onClick={() => selectedNode && onClone(selectedNode)}
          >
            <CopyIcon />
            Clone…
          </Button>
        )}
        <Button
          disabled={busy || !canDelete(selectedNode)}
          title={
            selectedNode && !canDelete(selectedNode)
              ? 'Linked clones are built on this snapshot'
              : undefined
          }
          onClick={() =>
            canDelete(selectedNode) && setDialog({ kind: 'delete', node: selectedNode })
          }
        >
          <TrashIcon />
          Delete…
        </Button>
      </div>

      {shownProgress && (
        <ProgressBar label={shownProgress.label} fraction={shownProgress.fraction} />
      )}

      <div className="snapshots__body">
        <div className="snapshots__tree-pane">
          <h2 id={treeLabelId} className="visually-hidden">
            Snapshots
          </h2>
          {nodes.length === 0 && (
            <p className="snapshots__empty">
              No snapshots yet. A snapshot keeps the VM as it is now, so you can come back to it
              later.
            </p>
          )}
          <ul
            role="tree"
            aria-labelledby={treeLabelId}
            aria-busy={busy || undefined}
            className="snapshot-tree"
            onKeyDown={onKeyDown}
          >
            {rows}
          </ul>
        </div>
        <SnapshotDetails node={selectedNode} isCurrent={selectedNode?.id === currentId} />
      </div>

      {dialog?.kind === 'take' && (
        <SnapshotNameDialog
          title="Take a snapshot"
          submitLabel="Take snapshot"
          initialName={`Snapshot ${nodes.length + 1}`}
          withDescription
          onCancel={() => setDialog(null)}
          onSubmit={({ name, description }) =>
            void run(
              'Taking snapshot…',
              () => onTake({ name, description }),
              `Took snapshot ${name}`,
            )
          }
        />
      )}
      {dialog?.kind === 'rename' && (
        <SnapshotNameDialog
          title={`Rename ${dialog.node.name}`}
          submitLabel="Rename"
          initialName={dialog.node.name}
          onCancel={() => setDialog(null)}
          onSubmit={({ name }) =>
            void run('Renaming…', () => onRename(dialog.node.id, name), `Renamed to ${name}`)
          }
        />
      )}
      {dialog?.kind === 'revert' && (
        <ConfirmDialog
          title={`Revert to ${dialog.node.name}?`}
          message={revertMessage(dialog.node, vmRunning)}
          confirmLabel="Revert"
          onConfirm={() =>
            run('Reverting…', () => onRevert(dialog.node.id), `Reverted to ${dialog.node.name}`)
          }
          onCancel={() => setDialog(null)}
        />
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={`Delete snapshot ${dialog.node.name}?`}
          message={deleteMessage(dialog.node)}
          confirmLabel="Delete"
          danger
          onConfirm={() =>
            run('Deleting snapshot…', () => onDelete(dialog.node.id), `Deleted ${dialog.node.name}`)
          }
          onCancel={() => setDialog(null)}
        />
      )}
    </div>
  );
}

/** The toast's detail from an action's answer: its `message`, or what a delete freed. */
function resultMessage(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const { message, freedBytes } = result as { message?: unknown; freedBytes?: unknown };
  if (typeof message === 'string' && message !== '') return message;
  if (typeof freedBytes === 'number' && freedBytes > 0) return `Freed ${formatBytes(freedBytes)}.`;
  return undefined;
}

function revertMessage(node: SnapshotNode, vmRunning: boolean | undefined): string {
  const lost = 'Its current state is lost unless you take a snapshot of it first.';
  if (node.kind === 'disk') {
    return vmRunning === false
      ? `The VM’s disks go back to the snapshot; it boots from them when you start it. ${lost}`
      : `The VM’s disks go back to the snapshot and the VM starts from power-off. ${lost}`;
  }
  return vmRunning === false
    ? `The VM goes back to the moment the snapshot was taken and stays suspended there: Resume continues it. ${lost}`
    : `The VM continues from the moment the snapshot was taken. ${lost}`;
}

function deleteMessage(node: SnapshotNode): string {
  const frees =
    node.reclaimableBytes !== undefined
      ? `This frees about ${formatBytes(node.reclaimableBytes)}. `
      : '';
  return `${frees}Its changes are merged into the snapshots after it, so they lose nothing; you can no longer revert to it.`;
}

interface TreeRowProps {
  entry: VisibleItem;
  selected: boolean;
  expanded: boolean;
  /** "You are here": the snapshot it is based on. */
  basedOn: string | null;
  itemRef: (node: HTMLLIElement | null) => void;
  onSelect: () => void;
  /** The item itself got focus (not something inside it). */
  onFocusItem: () => void;
  onToggle: () => void;
}

function TreeRow({
  entry,
  selected,
  expanded,
  basedOn,
  itemRef,
  onSelect,
  onFocusItem,
  onToggle,
}: TreeRowProps) {
  const labelId = useId();
  const metaId = useId();
  const { item, level, position, setSize } = entry;
  const node = item.snapshot;
  const hasChildren = item.children.length > 0;
  return (
    <li
      ref={itemRef}
      role="treeitem"
      aria-level={level}
      aria-posinset={position}
      aria-setsize={setSize}
      aria-selected={selected}
      aria-expanded={hasChildren ? expanded : undefined}
      aria-labelledby={`${labelId} ${metaId}`}
      tabIndex={selected ? 0 : -1}
      className={
        level > 1 ? 'snapshot-tree__item snapshot-tree__item--nested' : 'snapshot-tree__item'
      }
      // Set through the CSSOM by React, which the page's CSP (no inline styles) allows.
      style={{ paddingInlineStart: `${(level - 1) * 24}px` }}
      data-here={node ? undefined : true}
      onClick={(event) => {
        event.stopPropagation();
        onSelect();
      }}
      onFocus={(event) => {
        if (event.target === event.currentTarget) onFocusItem();
      }}
    >
      <div className={selected ? 'snapshot-row snapshot-row--selected' : 'snapshot-row'}>
        {hasChildren ? (
          <span
            className={
              expanded ? 'snapshot-row__toggle snapshot-row__toggle--open' : 'snapshot-row__toggle'
            }
            aria-hidden="true"
            onClick={(event) => {
              event.stopPropagation();
              onToggle();
            }}
          >
            <ChevronIcon width={14} height={14} />
          </span>
        ) : (
          <span className="snapshot-row__toggle" aria-hidden="true" />
        )}
        {node ? (
          <>
            {node.thumbnailUrl ? (
              <img className="snapshot-row__thumb" src={node.thumbnailUrl} alt="" />
            ) : (
              <span className="snapshot-row__thumb snapshot-row__thumb--empty" aria-hidden="true">
                <CameraIcon width={14} height={14} />
              </span>
            )}
            <span className="snapshot-row__text">
              <span id={labelId} className="snapshot-row__name">
                {node.name}
              </span>{' '}
              <span id={metaId} className="snapshot-row__meta">
                {formatDateTime(node.createdAt)} ·{' '}
                {node.kind === 'memory' ? 'Memory and disks' : 'Disks only'}
              </span>
            </span>
          </>
        ) : (
          <span className="snapshot-row__text">
            <span className="snapshot-row__name snapshot-row__name--here">
              <span className="snapshot-row__here-marker" aria-hidden="true">
                ▶{' '}
              </span>
              <span id={labelId}>You are here</span>
            </span>{' '}
            <span id={metaId} className="snapshot-row__meta">
              {basedOn ? `The VM now, since ${basedOn}` : 'The VM now'}
            </span>
          </span>
        )}
      </div>
    </li>
  );
}

function SnapshotDetails({ node, isCurrent }: { node: SnapshotNode | null; isCurrent: boolean }) {
  if (!node) {
    return (
      <aside className="snapshots__details" aria-label="Details">
        <p className="snapshots__details-empty">
          “You are here” is the VM as it runs now. Take a snapshot to keep this state.
        </p>
      </aside>
    );
  }
  return (
    <aside className="snapshots__details" aria-label="Details">
      {node.thumbnailUrl && (
        <img
          className="snapshots__details-thumb"
          src={node.thumbnailUrl}
          alt={`Screen of ${node.name}`}
        />
      )}
      <h2 className="snapshots__details-name">{node.name}</h2>
      <dl className="snapshots__facts">
        <dt>Taken</dt>
        <dd>{formatDateTime(node.createdAt)}</dd>
        <dt>Holds</dt>
        <dd>
          {node.kind === 'memory' ? 'Memory and disks (resumes running)' : 'Disks only (boots)'}
        </dd>
        {node.reclaimableBytes !== undefined && (
          <>
            <dt>Size</dt>
            <dd>{formatBytes(node.reclaimableBytes)}</dd>
          </>
        )}
      </dl>
      {isCurrent && <p className="snapshots__current">The VM runs from this snapshot.</p>}
      {node.protectedBy && node.protectedBy.length > 0 && (
        <p className="snapshots__current">
          {node.protectedBy.length === 1
            ? 'A linked clone is built on it, so it cannot be deleted.'
            : `${node.protectedBy.length} linked clones are built on it, so it cannot be deleted.`}
        </p>
      )}
      {node.description && <p className="snapshots__description">{node.description}</p>}
    </aside>
  );
}
