import { badgeLabels, type VmBadgeState } from '../utils/vm-state.ts';
import './library.css';

/** A dot and a word: colour is never the only sign of the state. */
export function VmStateBadge({
  state,
  compact = false,
}: {
  state: VmBadgeState;
  compact?: boolean;
}) {
  return (
    <span
      className={`state-badge state-badge--${state}${compact ? ' state-badge--compact' : ''}`}
      data-state={state}
    >
      <span className="state-badge__dot" aria-hidden="true" />
      {badgeLabels[state]}
    </span>
  );
}
