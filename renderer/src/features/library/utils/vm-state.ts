/**
 * What each run state looks like and which power actions it allows: one table, so the
 * sidebar badge, the summary page and its toolbar never disagree.
 */
import type { VmRunState, VmSummary } from '../../../client/contract.ts';
import type { PowerAction } from '../api/library-api.ts';

/**
 * The badge a VM gets: its run state, `suspended` (saved to disk; the services will report it
 * with suspend support), `error` (off, and its last run failed) or `broken` (the folder is not
 * a usable VM).
 */
export type VmBadgeState = VmRunState | 'suspended' | 'error' | 'broken';

export const badgeLabels: Record<VmBadgeState, string> = {
  off: 'Off',
  running: 'Running',
  paused: 'Paused',
  suspended: 'Suspended',
  crashed: 'Crashed',
  unresponsive: 'Not responding',
  error: 'Failed to start',
  broken: 'Broken folder',
};

/** A VM summary's badge; the last exit says whether "off" hides a failure. */
export function badgeStateOf(vm: Pick<VmSummary, 'state' | 'lastExit'>): VmBadgeState {
  const state = vm.state as VmRunState | 'suspended';
  if (state === 'off' && vm.lastExit && vm.lastExit.state !== 'stopped') return 'error';
  return state;
}

export const powerActionLabels: Record<PowerAction, string> = {
  start: 'Start',
  shutdown: 'Shut down',
  powerOff: 'Power off',
  pause: 'Pause',
  resume: 'Resume',
  suspend: 'Suspend',
  reset: 'Reset',
};

/** Which actions make sense in each state; the toolbar disables the others. */
const allowed: Record<VmBadgeState, readonly PowerAction[]> = {
  off: ['start'],
  error: ['start'],
  crashed: ['start'],
  suspended: ['start'],
  running: ['shutdown', 'powerOff', 'pause', 'suspend', 'reset'],
  paused: ['resume', 'powerOff', 'suspend', 'reset'],
  unresponsive: ['powerOff'],
  broken: [],
};

export function isPowerActionAllowed(state: VmBadgeState, action: PowerAction): boolean {
  return allowed[state].includes(action);
}

/** Filters in the sidebar. */
export type VmFilter = 'all' | 'running' | 'off' | 'problems';

export const filterLabels: Record<VmFilter, string> = {
  all: 'All',
  running: 'Running',
  off: 'Off',
  problems: 'Problems',
};

export function matchesFilter(state: VmBadgeState, filter: VmFilter): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'running':
      return state === 'running' || state === 'paused' || state === 'unresponsive';
    case 'off':
      return state === 'off' || state === 'suspended';
    case 'problems':
      return (
        state === 'crashed' || state === 'error' || state === 'unresponsive' || state === 'broken'
      );
  }
}

/** Whether the VM host process exists (its config is then partly locked). */
export function isPoweredOn(state: VmBadgeState): boolean {
  return state === 'running' || state === 'paused' || state === 'unresponsive';
}
