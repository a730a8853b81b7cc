/**
 * How tests run the real VM host process around a scripted machine (scripted-vm-host-main.ts):
 * through a registry's launcher, through the CLI's own registry (NESTBOX_VM_HOST), or by hand.
 */
import path from 'node:path';
import type { HostLauncher } from '../../services/vm-host/host-launcher.ts';
import { SCRIPTED_MACHINE_VARIABLE, type ScriptedMachineKind } from './scripted-machines.ts';

/** The scripted VM host's entry, run from source under tsx. */
export const SCRIPTED_VM_HOST_MAIN = path.join(import.meta.dirname, 'scripted-vm-host-main.ts');

/** The VM host from source around a scripted machine; `env` goes to the host process. */
export function scriptedLauncher(
  machine: ScriptedMachineKind,
  env: Record<string, string> = {},
): HostLauncher {
  return {
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), SCRIPTED_VM_HOST_MAIN, '--machine', machine],
    env,
  };
}

/**
 * The environment under which `nestbox start` (the CLI's own registry, default launcher) runs
 * the scripted `machine`: NESTBOX_VM_HOST names the scripted host, tsx comes in by NODE_OPTIONS.
 */
export function scriptedCliEnv(
  env: NodeJS.ProcessEnv,
  machine: ScriptedMachineKind,
): NodeJS.ProcessEnv {
  return {
    ...env,
    NESTBOX_VM_HOST: SCRIPTED_VM_HOST_MAIN,
    NODE_OPTIONS: `--import=${import.meta.resolve('tsx')}`,
    [SCRIPTED_MACHINE_VARIABLE]: machine,
  };
}
