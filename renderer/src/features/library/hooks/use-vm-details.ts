import { useEffect, useState } from 'react';
import type { VmDetails } from '../../../../../electron/common/vm-details.ts';
import type { LibraryApi } from '../api/library-api.ts';

interface Settled<T> {
  key: string;
  value: T | null;
  error: Error | null;
}

/**
 * `vms.get` for one VM, asked again whenever `version` changes (its run state, a save):
 * the summary page shows the config as the services have it, never a stale copy.
 */
export function useVmDetails(api: LibraryApi, id: string, version: string) {
  const key = `${id} ${version}`;
  const [settled, setSettled] = useState<Settled<VmDetails>>({ key: '', value: null, error: null });
  const getVm = api.getVm;

  useEffect(() => {
    if (!getVm) return;
    let current = true;
    getVm(id).then(
      (value) => current && setSettled({ key, value, error: null }),
      (reason: unknown) =>
        current &&
        setSettled({
          key,
          value: null,
          error: reason instanceof Error ? reason : new Error(String(reason)),
        }),
    );
    return () => {
      current = false;
    };
  }, [getVm, id, key]);

  // Keep showing the last answer for this VM while a newer one is on its way.
  const sameVm = settled.key.split(' ')[0] === id;
  return {
    details: sameVm ? settled.value : null,
    error: sameVm ? settled.error : null,
    loading: getVm !== undefined && settled.key !== key,
  };
}

/**
 * A picture of the VM's screen while it runs (`vms.screenshot`), taken again every
 * `refreshMs` while running; null while off or before the first one.
 */
export function useScreenshot(api: LibraryApi, id: string, live: boolean, refreshMs = 5000) {
  const [shot, setShot] = useState<{ id: string; url: string } | null>(null);
  const screenshot = api.screenshot;

  useEffect(() => {
    if (!screenshot || !live) return;
    let current = true;
    const take = () =>
      void screenshot(id).then(
        (url) => current && setShot({ id, url }),
        () => {
          // No picture (the display is off, the VM just stopped): keep the placeholder.
        },
      );
    take();
    const timer = refreshMs > 0 ? setInterval(take, refreshMs) : undefined;
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [screenshot, id, live, refreshMs]);

  return live && shot?.id === id ? shot.url : null;
}
