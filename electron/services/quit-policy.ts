/**
 * What quitting the app does to VMs that still run (the `onQuitWithRunningVms` preference).
 * Each VM runs in its own VM host process, so by default nothing needs doing: they keep
 * running in the background and the next app start re-attaches. 'suspend' saves each one and
 * stops it; 'power-off' powers each off. Whatever the choice, a VM is never lost: if a suspend
 * or power-off fails (or does not finish in time), that VM is left running and the outcome
 * says so.
 */
import type { QuitAction } from './settings/settings.ts';
import { isActive } from './vm-host/vm-host-registry.ts';
import type { VmServices } from './vm-host/vm-services.ts';

export interface QuitOutcome {
  id: string;
  name: string;
  result: 'kept-running' | 'suspended' | 'powered-off';
  /** Why the chosen action did not happen (the VM was left running). */
  problem?: string;
}

export interface QuitPolicyOptions {
  /** How long one VM may take to suspend or power off before it is left running. */
  timeoutMs?: number;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Applies `action` to every running VM of the library, all at once; resolves when done. */
export async function applyQuitPolicy(
  action: QuitAction,
  services: VmServices,
  options: QuitPolicyOptions = {},
): Promise<QuitOutcome[]> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const listing = await services.library.list();
  const vms = listing.entries.filter((entry) => entry.status === 'ok');
  const outcomes = await Promise.all(
    vms.map(async (vm): Promise<QuitOutcome | null> => {
      const status = await services.registry.status(vm);
      if (!isActive(status.state)) return null;
      const base = { id: vm.id, name: vm.config.name };
      if (action === 'keep-running') return { ...base, result: 'kept-running' };
      try {
        const client = await services.registry.connect(vm);
        try {
          if (action === 'suspend') {
            await withTimeout(client.call('suspend'), timeoutMs, 'suspending');
            return { ...base, result: 'suspended' };
          }
          await withTimeout(client.call('powerOff'), timeoutMs, 'powering off');
          return { ...base, result: 'powered-off' };
        } finally {
          await client.close();
        }
      } catch (error) {
        return { ...base, result: 'kept-running', problem: messageOf(error) };
      }
    }),
  );
  return outcomes.filter((outcome): outcome is QuitOutcome => outcome !== null);
}
