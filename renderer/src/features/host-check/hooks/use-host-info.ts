import { useCallback, useEffect, useState } from 'react';
import type { HostInfo } from '../../../client/contract.ts';
import { useClient } from '../../../client/client-context.tsx';

export interface HostInfoQuery {
  /** The latest answer, or null before the first one and after a failure. */
  info: HostInfo | null;
  /** Why the latest request failed (a transport or service error), or null. */
  error: Error | null;
  /** A request is under way (the first one, or a retry). */
  pending: boolean;
  /** Changes with every answer, success or failure: a key for UI that must re-announce it. */
  answerId: number;
  /** Ask again, e.g. after the user fixed a problem. The current result stays until then. */
  refetch: () => void;
}

interface Settled {
  attempt: number;
  info: HostInfo | null;
  error: Error | null;
}

/** `host.info` from the services, with the state a screen needs to show it. */
export function useHostInfo(): HostInfoQuery {
  const client = useClient();
  const [attempt, setAttempt] = useState(0);
  const [settled, setSettled] = useState<Settled>({ attempt: -1, info: null, error: null });

  useEffect(() => {
    // A newer attempt (or unmount) makes this one's answer stale.
    let current = true;
    client.hostInfo().then(
      (info) => {
        if (current) setSettled({ attempt, info, error: null });
      },
      (reason: unknown) => {
        if (current) setSettled({ attempt, info: null, error: asError(reason) });
      },
    );
    return () => {
      current = false;
    };
  }, [client, attempt]);

  const refetch = useCallback(() => setAttempt((n) => n + 1), []);

  return {
    info: settled.info,
    error: settled.error,
    pending: settled.attempt !== attempt,
    answerId: settled.attempt,
    refetch,
  };
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
