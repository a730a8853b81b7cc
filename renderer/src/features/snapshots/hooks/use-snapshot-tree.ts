import { useCallback, useEffect, useRef, useState } from 'react';
import type { SnapshotTree, SnapshotsApi } from '../api/snapshots-api.ts';

interface TreeState {
  vmId: string;
  tree: SnapshotTree | null;
  error: Error | null;
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/**
 * `snapshots.list` for one VM, read again whenever `version` changes (its run state) and after
 * each action (`reload`, which resolves once the new tree is on show). Only the newest answer
 * counts; a failed read keeps the last good tree with the error beside it.
 */
export function useSnapshotTree(api: SnapshotsApi, vmId: string, version: string) {
  const [state, setState] = useState<TreeState>({ vmId, tree: null, error: null });
  const latest = useRef(0);

  const reload = useCallback(async () => {
    const request = ++latest.current;
    try {
      const tree = await api.list(vmId);
      if (request === latest.current) setState({ vmId, tree, error: null });
    } catch (reason) {
      if (request === latest.current) {
        setState((previous) => ({
          vmId,
          tree: previous.vmId === vmId ? previous.tree : null,
          error: toError(reason),
        }));
      }
    }
  }, [api, vmId]);

  useEffect(() => {
    void reload();
    return () => {
      // Answers to this round arrive after the page moved on: drop them.
      latest.current += 1;
    };
  }, [reload, version]);

  const sameVm = state.vmId === vmId;
  return {
    tree: sameVm ? state.tree : null,
    error: sameVm ? state.error : null,
    reload,
  };
}

/**
 * The pictures of the snapshots that have one (`snapshots.thumbnail`), each asked once, as
 * data: URLs by snapshot id. A picture that cannot be read is simply not shown.
 */
export function useSnapshotThumbnails(
  api: SnapshotsApi,
  vmId: string,
  nodes: readonly { id: string; thumbnail: boolean }[],
): (snapshotId: string) => string | undefined {
  const [urls, setUrls] = useState<ReadonlyMap<string, string>>(() => new Map());
  const asked = useRef(new Set<string>());
  const thumbnail = api.thumbnail;

  useEffect(() => {
    if (!thumbnail) return;
    for (const node of nodes) {
      const key = `${vmId}/${node.id}`;
      if (!node.thumbnail || asked.current.has(key)) continue;
      asked.current.add(key);
      // Not cancelled when the tree is read again: each picture is asked only once.
      thumbnail(vmId, node.id).then(
        (url) => setUrls((previous) => new Map(previous).set(key, url)),
        () => {
          // No picture: the row shows its placeholder.
        },
      );
    }
  }, [thumbnail, vmId, nodes]);

  return useCallback((snapshotId: string) => urls.get(`${vmId}/${snapshotId}`), [urls, vmId]);
}
