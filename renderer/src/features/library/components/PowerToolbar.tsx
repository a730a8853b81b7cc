import { useState, type ComponentType, type SVGProps } from 'react';
import { Button } from '../../../components/Button.tsx';
import { ConfirmDialog } from '../../../components/ConfirmDialog.tsx';
import { errorMessage } from '../../../components/format.ts';
import {
  PauseIcon,
  PlayIcon,
  PowerIcon,
  ResetIcon,
  StopIcon,
  TrashIcon,
} from '../../../components/icons.tsx';
import { ProgressBar } from '../../../components/ProgressBar.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import type { LibraryApi, PowerAction } from '../api/library-api.ts';
import { isPowerActionAllowed, powerActionLabels, type VmBadgeState } from '../utils/vm-state.ts';

const order: PowerAction[] = [
  'start',
  'resume',
  'pause',
  'suspend',
  'shutdown',
  'powerOff',
  'reset',
];

const icons: Record<PowerAction, ComponentType<SVGProps<SVGSVGElement>>> = {
  start: PlayIcon,
  resume: PlayIcon,
  pause: PauseIcon,
  suspend: PauseIcon,
  shutdown: PowerIcon,
  powerOff: StopIcon,
  reset: ResetIcon,
};

const descriptions: Record<PowerAction, string> = {
  start: 'Power on the VM',
  resume: 'Let the paused VM run again',
  pause: 'Freeze the VM where it is',
  suspend: 'Save the VM’s whole state to disk and power it off; Start continues it',
  shutdown: 'Press the power button: the guest shuts down on its own',
  powerOff: 'Cut the power at once, like pulling the plug',
  reset: 'Press the reset button: the guest restarts at once',
};

const doneMessages: Record<PowerAction, (name: string) => string> = {
  start: (name) => `${name} is running`,
  resume: (name) => `${name} is running again`,
  pause: (name) => `${name} is paused`,
  suspend: (name) => `${name} is suspended`,
  shutdown: (name) => `Asked ${name} to shut down`,
  powerOff: (name) => `${name} is powered off`,
  reset: (name) => `${name} was reset`,
};

interface PowerToolbarProps {
  vmId: string;
  vmName: string;
  state: VmBadgeState;
  power: NonNullable<LibraryApi['power']>;
  /** Offered on a suspended VM, behind a confirmation. */
  discardSavedState?: LibraryApi['discardSavedState'];
  /** Shows how far a suspend has got. */
  watchProgress?: LibraryApi['watchProgress'];
  /** After every action, successful or not: the list may have changed. */
  onDone?: () => void;
}

/** A suspended VM's Start continues it, so it says so. */
const resumeSaved = {
  label: 'Resume',
  description: 'Continue the VM from its saved state',
  done: (name: string) => `${name} resumed from its saved state`,
};

/**
 * Start, pause, resume, shut down, power off and reset. Each is enabled only in the states
 * where it does something; actions the services do not offer yet are not shown at all.
 */
export function PowerToolbar({
  vmId,
  vmName,
  state,
  power,
  discardSavedState,
  watchProgress,
  onDone,
}: PowerToolbarProps) {
  const toast = useToast();
  const [running, setRunning] = useState<PowerAction | 'discard' | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [askDiscard, setAskDiscard] = useState(false);
  const suspended = state === 'suspended';
  // Start and Resume share a place: a paused VM resumes, any other starts.
  const available = order.filter(
    (action) =>
      power[action] !== undefined &&
      (action === 'resume' ? state === 'paused' : action !== 'start' || state !== 'paused'),
  );
  if (available.length === 0) return null;
  const labelOf = (action: PowerAction) =>
    action === 'start' && suspended ? resumeSaved.label : powerActionLabels[action];

  async function run(action: PowerAction) {
    const call = power[action];
    if (!call) return;
    const resuming = action === 'start' && suspended;
    setRunning(action);
    // A suspend saves the whole RAM: show how far it has got (subscribed before asking).
    const stopProgress =
      action === 'suspend'
        ? watchProgress?.(vmId, ({ done, total }) => setProgress(total > 0 ? done / total : null))
        : undefined;
    try {
      await call(vmId);
      toast.notify({
        tone: 'success',
        title: resuming ? resumeSaved.done(vmName) : doneMessages[action](vmName),
      });
    } catch (error) {
      toast.notify({
        tone: 'error',
        title: `Couldn’t ${labelOf(action).toLowerCase()} ${vmName}`,
        message: errorMessage(error),
      });
    } finally {
      stopProgress?.();
      setProgress(null);
      setRunning(null);
      onDone?.();
    }
  }

  async function discard() {
    if (!discardSavedState) return;
    setRunning('discard');
    try {
      await discardSavedState(vmId);
      setAskDiscard(false);
      toast.notify({
        tone: 'success',
        title: `${vmName} started afresh`,
        message: 'Its saved state was discarded.',
      });
    } catch (error) {
      toast.notify({
        tone: 'error',
        title: `Couldn’t discard the saved state of ${vmName}`,
        message: errorMessage(error),
      });
    } finally {
      setRunning(null);
      onDone?.();
    }
  }

  return (
    <div className="power-toolbar__area">
      <div className="power-toolbar" role="toolbar" aria-label="Power">
        {available.map((action) => {
          const Icon = icons[action];
          return (
            <Button
              key={action}
              variant={action === 'start' || action === 'resume' ? 'primary' : 'secondary'}
              disabled={
                !isPowerActionAllowed(state, action) || (running !== null && running !== action)
              }
              busy={running === action}
              title={
                action === 'start' && suspended ? resumeSaved.description : descriptions[action]
              }
              onClick={() => void run(action)}
            >
              <Icon />
              {labelOf(action)}
            </Button>
          );
        })}
        {suspended && discardSavedState && (
          <Button
            disabled={running !== null && running !== 'discard'}
            busy={running === 'discard' && !askDiscard}
            title="Throw the saved state away and start the VM from power-on"
            onClick={() => setAskDiscard(true)}
          >
            <TrashIcon />
            Discard saved state…
          </Button>
        )}
      </div>
      {running === 'suspend' && <ProgressBar label={`Suspending ${vmName}…`} fraction={progress} />}
      {askDiscard && (
        <ConfirmDialog
          title={`Discard the saved state of ${vmName}?`}
          message="The VM starts afresh from power-on, as after pulling the plug: whatever was running when it was suspended is lost. Its disks keep what was written."
          confirmLabel="Discard and start"
          busyLabel="Starting…"
          danger
          onConfirm={discard}
          onCancel={() => setAskDiscard(false)}
        />
      )}
    </div>
  );
}
