/**
 * Layer planning: pure functions from one snapshot tree to the next, and the questions the
 * store asks about the layer graph (who depends on a layer, what a running VM has open, what
 * is no longer needed). No I/O here: the store creates files, commits what these functions
 * return, then deletes what they say is gone.
 *
 * The graph: every layer in `layers` is backed by another layer or by its base disk. Layers
 * are owned by a snapshot (frozen) or by the current state (the writable overlays); a layer
 * nobody owns is retained: it stays while something is backed by it. Anything unreachable
 * from an owned layer is dropped.
 */
import type {
  LayerRecord,
  SnapshotKind,
  SnapshotRecord,
  SnapshotTreeDocument,
} from './snapshot-tree.ts';
import { cloneSnapshotTree } from './snapshot-tree.ts';

/** A new tree and the layer files (relative to snapshots/) it no longer references. */
export interface PlannedTree {
  document: SnapshotTreeDocument;
  droppedLayers: string[];
}

export function ownedLayerFiles(document: SnapshotTreeDocument): Set<string> {
  const owned = new Set<string>();
  for (const snapshot of document.snapshots) {
    for (const file of snapshot.diskLayers) if (file !== null) owned.add(file);
  }
  for (const file of document.current.overlays) if (file !== null) owned.add(file);
  return owned;
}

/** Layers kept only because something is still backed by them. */
export function retainedLayers(document: SnapshotTreeDocument): LayerRecord[] {
  const owned = ownedLayerFiles(document);
  return document.layers.filter((layer) => !owned.has(layer.file));
}

export function dependentsOf(document: SnapshotTreeDocument, file: string): LayerRecord[] {
  return document.layers.filter((layer) => layer.backing === file);
}

/** The layer and every layer below it, top down (the base disk is not a layer). */
export function layerChain(document: SnapshotTreeDocument, file: string): string[] {
  const byFile = new Map(document.layers.map((layer) => [layer.file, layer]));
  const chain: string[] = [];
  for (let at: string | null = file; at !== null && !chain.includes(at);) {
    chain.push(at);
    at = byFile.get(at)?.backing ?? null;
  }
  return chain;
}

/**
 * Layers another process may have open, which must not be changed: the running VM's whole
 * chain (it reads every layer below its overlay and caches their tables), and the chains of
 * snapshots that linked clones are built on (a clone may run at any time).
 */
export function pinnedLayers(
  document: SnapshotTreeDocument,
  options: { vmRunning: boolean },
): Set<string> {
  const pinned = new Set<string>();
  const pin = (file: string | null) => {
    if (file !== null) for (const layer of layerChain(document, file)) pinned.add(layer);
  };
  if (options.vmRunning) document.current.overlays.forEach(pin);
  for (const snapshot of document.snapshots) {
    if (snapshot.protectedBy.length > 0) snapshot.diskLayers.forEach(pin);
  }
  return pinned;
}

/** Drops every layer no owned layer reaches through its backing chain. */
export function pruneLayers(document: SnapshotTreeDocument): PlannedTree {
  const reachable = new Set<string>();
  for (const file of ownedLayerFiles(document)) {
    for (const layer of layerChain(document, file)) reachable.add(layer);
  }
  const droppedLayers = document.layers
    .filter((layer) => !reachable.has(layer.file))
    .map((layer) => layer.file);
  return {
    document: { ...document, layers: document.layers.filter((l) => reachable.has(l.file)) },
    droppedLayers,
  };
}

export interface TakeSpec {
  id: string;
  name: string;
  description: string;
  kind: SnapshotKind;
  createdAt: string;
  thumbnail: boolean;
  /** The new writable overlays, one per disk, each backed by the current top. */
  overlays: string[];
}

/** The current tops become the snapshot's layers; new overlays go on top of them. */
export function planTake(document: SnapshotTreeDocument, take: TakeSpec): SnapshotTreeDocument {
  const next = cloneSnapshotTree(document);
  const tops = next.current.overlays;
  const snapshot: SnapshotRecord = {
    id: take.id,
    parentId: next.current.parentId,
    name: take.name,
    description: take.description,
    createdAt: take.createdAt,
    kind: take.kind,
    thumbnail: take.thumbnail,
    protectedBy: [],
    diskLayers: [...tops],
  };
  next.snapshots.push(snapshot);
  take.overlays.forEach((file, disk) => {
    next.layers.push({ file, disk, backing: tops[disk] ?? null });
  });
  // A resume point stays: the layer frozen here holds exactly the disks it was saved with,
  // and the new overlays read through to it.
  next.current = { parentId: take.id, overlays: [...take.overlays], resume: next.current.resume };
  return next;
}

/**
 * New overlays on the snapshot's layers; the old overlays (and what only they used) go, and
 * so does a resume point (its machine belongs to the old disks). The store removes its folder.
 */
export function planRevert(
  document: SnapshotTreeDocument,
  snapshotId: string,
  overlays: string[],
): PlannedTree {
  const next = cloneSnapshotTree(document);
  const snapshot = next.snapshots.find((s) => s.id === snapshotId);
  if (!snapshot) throw new Error(`planRevert: no snapshot ${snapshotId}`);
  overlays.forEach((file, disk) => {
    next.layers.push({ file, disk, backing: snapshot.diskLayers[disk] ?? null });
  });
  next.current = { parentId: snapshotId, overlays: [...overlays], resume: null };
  return pruneLayers(next);
}

/**
 * Removes the node only: children move up to its parent, the position too if it was there,
 * and its layers stay as retained layers for whatever is backed by them (merging them away
 * is a separate, later step: see nextMerge). A layer nothing depends on is dropped at once.
 */
export function planDeleteNode(document: SnapshotTreeDocument, snapshotId: string): PlannedTree {
  const next = cloneSnapshotTree(document);
  const snapshot = next.snapshots.find((s) => s.id === snapshotId);
  if (!snapshot) throw new Error(`planDeleteNode: no snapshot ${snapshotId}`);
  next.snapshots = next.snapshots.filter((s) => s.id !== snapshotId);
  for (const child of next.snapshots) {
    if (child.parentId === snapshotId) child.parentId = snapshot.parentId;
  }
  if (next.current.parentId === snapshotId) next.current.parentId = snapshot.parentId;
  return pruneLayers(next);
}

export interface MergeStep {
  /** A retained layer … */
  layer: LayerRecord;
  /** … and one layer backed by it that no other process has open. */
  dependent: LayerRecord;
}

/**
 * The next merge that lets a retained layer go, or undefined when none can be done now.
 * Only unpinned layers are merged, and a layer below a pinned one is pinned too, so neither
 * the layer nor its dependents are open elsewhere. Upper retained layers come before the
 * layers below them, and the store commits after each merge: so a layer is only merged into
 * a dependent whose real backing is that layer or, after a crash between merge and commit,
 * that layer's own backing — the two cases the native merge accepts (the second as "already
 * merged"), and a layer's backing never changes while such a crash leftover is unresolved.
 */
export function nextMerge(
  document: SnapshotTreeDocument,
  pinned: ReadonlySet<string>,
): MergeStep | undefined {
  const height = (file: string) => layerChain(document, file).length;
  const candidates = retainedLayers(document).sort((a, b) => height(b.file) - height(a.file));
  for (const layer of candidates) {
    // Open elsewhere (the running VM's chain, a linked clone's): it waits.
    if (pinned.has(layer.file)) continue;
    const dependent = dependentsOf(document, layer.file)[0];
    if (dependent) return { layer, dependent };
  }
  return undefined;
}

/** After a merge: the dependent is backed by the layer's own backing. */
export function planMerge(document: SnapshotTreeDocument, step: MergeStep): PlannedTree {
  const next = cloneSnapshotTree(document);
  for (const layer of next.layers) {
    if (layer.file === step.dependent.file) layer.backing = step.layer.backing;
  }
  return pruneLayers(next);
}

/**
 * Every merge `nextMerge` would hand out, in order, if each one succeeded and was committed:
 * the work a delete is about to do (for its progress total and its pre-copy).
 */
export function plannedMerges(
  document: SnapshotTreeDocument,
  pinned: ReadonlySet<string>,
): MergeStep[] {
  const steps: MergeStep[] = [];
  for (let tree = document, step = nextMerge(tree, pinned); step; step = nextMerge(tree, pinned)) {
    steps.push(step);
    tree = planMerge(tree, step).document;
  }
  return steps;
}
