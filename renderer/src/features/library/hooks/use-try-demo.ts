/**
 * "Try the demo VM": offered when the services can make VMs and the host has the demo kernel
 * (`host.info`'s demoGuest). It creates the VM, starts it and opens its page.
 */
import { useCallback, useEffect, useState } from 'react';
import type { DemoGuest } from '../../../../../electron/common/host-info.ts';
import { demoVmRequest } from '../utils/demo-vm.ts';
import { useLibrary } from './library-context.tsx';

export interface TryDemoState {
  /** Makes, starts and opens the demo VM; undefined while there is no demo to offer. */
  tryDemo: (() => Promise<void>) | undefined;
  /** Why the last attempt failed, or null. */
  error: Error | null;
}

/** Goes to an app route href ("#/vms/…"), as the app's own links do. */
function go(href: string): void {
  window.location.hash = href;
}

export function useTryDemo(navigate: (href: string) => void = go): TryDemoState {
  const { api, links, refresh } = useLibrary();
  const [guest, setGuest] = useState<DemoGuest | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const { demoGuest, createVm } = api;
  const start = api.power?.start;

  useEffect(() => {
    if (!demoGuest || !createVm || !start) return;
    let current = true;
    demoGuest().then(
      (found) => {
        if (current) setGuest(found);
      },
      // No answer: simply no demo to offer; the rest of the library still works.
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [demoGuest, createVm, start]);

  const tryDemo = useCallback(async () => {
    if (!guest || !createVm || !start) return;
    setError(null);
    try {
      const vm = await createVm(demoVmRequest(guest));
      refresh();
      await start(vm.id);
      navigate(links.vm(vm.id));
    } catch (reason) {
      setError(reason instanceof Error ? reason : new Error(String(reason)));
    }
  }, [guest, createVm, start, refresh, navigate, links]);

  return { tryDemo: guest && createVm && start ? tryDemo : undefined, error };
}
