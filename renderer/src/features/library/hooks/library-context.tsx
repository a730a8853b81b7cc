import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from 'react';
import type { VmList } from '../../../client/contract.ts';
import type { LibraryApi } from '../api/library-api.ts';

/** Where the library's links lead: the app's routes, handed in so the feature does not know them. */
export interface LibraryLinks {
  vm(id: string): string;
  vmSettings(id: string): string;
  /** A running VM's live screen, when the app can show one. */
  vmDisplay?(id: string): string;
  /** A VM's serial console, when the app can show one. */
  vmConsole?(id: string): string;
  /** A VM's snapshot manager, when the app has one. */
  vmSnapshots?(id: string): string;
  brokenVm(folder: string): string;
  newVm: string;
}

export interface LibraryState {
  api: LibraryApi;
  links: LibraryLinks;
  /** The latest list; null until the first answer. */
  list: VmList | null;
  /** Why the latest attempt failed; the last good list stays shown. */
  error: Error | null;
  /** Ask the services again (after an action, or Retry). */
  refresh(): void;
}

const LibraryContext = createContext<LibraryState | null>(null);

interface LibraryProviderProps {
  api: LibraryApi;
  links: LibraryLinks;
  /**
   * Without a `vms.changed` subscription, how often to ask `vms.list` again so badges stay
   * live (ms); 0 never.
   */
  pollMs?: number;
  /** After the `vms.changed` subscription ends with an error, when to subscribe again (ms); 0 never. */
  retryMs?: number;
  children: ReactNode;
}

/** The VM list for every screen that shows it: the sidebar and the library pages share one. */
export function LibraryProvider({
  api,
  links,
  pollMs = 3000,
  retryMs = 3000,
  children,
}: LibraryProviderProps) {
  const [list, setList] = useState<VmList | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    const accept = (next: VmList) => {
      if (!current) return;
      setList(next);
      setError(null);
    };
    const reject = (reason: unknown) => {
      if (current) setError(reason instanceof Error ? reason : new Error(String(reason)));
    };
    if (api.watchVms) {
      let retry: ReturnType<typeof setTimeout> | undefined;
      const stop = api.watchVms(accept, (reason) => {
        reject(reason);
        // The subscription ended (the service restarted, the connection dropped): subscribe
        // again in a while, keeping the last list on show meanwhile.
        if (current && retryMs > 0) retry = setTimeout(() => setAttempt((n) => n + 1), retryMs);
      });
      return () => {
        current = false;
        clearTimeout(retry);
        stop();
      };
    }
    const ask = () => void api.listVms().then(accept, reject);
    ask();
    const timer = pollMs > 0 ? setInterval(ask, pollMs) : undefined;
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [api, pollMs, retryMs, attempt]);

  const refresh = useCallback(() => setAttempt((n) => n + 1), []);
  const value = useMemo(
    () => ({ api, links, list, error, refresh }),
    [api, links, list, error, refresh],
  );
  return <LibraryContext value={value}>{children}</LibraryContext>;
}

export function useLibrary(): LibraryState {
  const state = useContext(LibraryContext);
  if (!state) throw new Error('useLibrary() needs a <LibraryProvider> above it.');
  return state;
}
