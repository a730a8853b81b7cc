/**
 * The VM library as the UI and `nestbox list --json` see it: every VM with whether it runs,
 * and the folders that could not be read as VMs, with the reason.
 */

/** off: no VM host; crashed: its host died (the log is kept); unresponsive: alive but silent. */
/** 'suspended': off, with its whole state saved; starting it continues there. */
export type VmRunState = 'off' | 'suspended' | 'running' | 'paused' | 'crashed' | 'unresponsive';

export interface VmSummary {
  id: string;
  name: string;
  folder: string;
  state: VmRunState;
  /** The VM host's process id (the live one, or the one that died). */
  pid?: number;
  /** For people: why 'crashed' or 'unresponsive'. */
  detail?: string;
  /** How its last run ended, when recorded. */
  lastExit?: VmLastExit;
}

export interface VmLastExit {
  /** stopped: powered off or halted; error: the VM failed; start-failed: it never ran. */
  state: 'stopped' | 'error' | 'start-failed';
  reason: string;
  error?: { code?: string; message: string };
  /** ISO 8601. */
  at: string;
  pid: number;
}

export interface BrokenVmSummary {
  folder: string;
  code: string;
  message: string;
}

export interface VmList {
  root: string;
  vms: VmSummary[];
  broken: BrokenVmSummary[];
  /** The registry of imported folders could not be read (the VMs in the root still list). */
  registryProblem?: string;
}
