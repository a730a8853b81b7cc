import { useRef, useState, type ReactNode } from 'react';
import { Button } from '../../../components/Button.tsx';
import { ConfirmDialog } from '../../../components/ConfirmDialog.tsx';
import { errorMessage } from '../../../components/format.ts';
import {
  AlertIcon,
  CameraIcon,
  MonitorIcon,
  SettingsIcon,
  TerminalIcon,
  TrashIcon,
} from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import type { VmSummary } from '../../../client/contract.ts';
import { useLibrary } from '../hooks/library-context.tsx';
import { useScreenshot, useVmDetails } from '../hooks/use-vm-details.ts';
import { badgeLabels, badgeStateOf, isPoweredOn, type VmBadgeState } from '../utils/vm-state.ts';
import { HardwareSummary } from './HardwareSummary.tsx';
import { PowerToolbar } from './PowerToolbar.tsx';
import { VmStateBadge } from './VmStateBadge.tsx';
import './library.css';

interface VmSummaryPageProps {
  vmId: string;
  /** Recent snapshots, once the snapshot feature is wired; the section is left out without it. */
  snapshotsSlot?: ReactNode;
  /** More actions for the header (Clone…), from features the library does not know. */
  actionsSlot?: ReactNode;
  /** Ask before deleting (preferences: confirmations.deleteVm). */
  confirmDelete?: boolean;
  /** After the VM was deleted: leave its page. */
  onDeleted?: () => void;
}

/** One VM: its screen or state, power buttons, hardware, notes and snapshots. */
export function VmSummaryPage({
  vmId,
  snapshotsSlot,
  actionsSlot,
  confirmDelete = true,
  onDeleted,
}: VmSummaryPageProps) {
  const { api, list, links, refresh } = useLibrary();
  const summary = list?.vms.find((vm) => vm.id === vmId);
  const state: VmBadgeState = summary ? badgeStateOf(summary) : 'off';
  const { details, error } = useVmDetails(api, vmId, state);
  const screenshot = useScreenshot(api, vmId, state === 'running' || state === 'paused');
  const headingRef = useRef<HTMLHeadingElement>(null);

  if (!list) {
    return (
      <div className="vm-page" aria-busy="true">
        <p className="vm-page__loading">Loading…</p>
      </div>
    );
  }
  if (!summary) {
    return (
      <div className="vm-page">
        <title>Not found · Nestbox</title>
        <h1 className="page-title">This VM is not in the library</h1>
        <p>
          It may have been deleted or moved. <a href="#/">Back to the library</a>
        </p>
      </div>
    );
  }

  const name = details?.config.name ?? summary.name;
  return (
    <div className="vm-page">
      <title>{`${name} · Nestbox`}</title>
      <header className="vm-page__header">
        <div className="vm-page__heading">
          <h1 ref={headingRef} tabIndex={-1} className="page-title">
            {name}
          </h1>
          <VmStateBadge state={state} />
        </div>
        <p className="vm-page__folder">
          <code>{summary.folder}</code>
        </p>
        <div className="vm-page__actions">
          {api.power && (
            <PowerToolbar
              vmId={vmId}
              vmName={name}
              state={state}
              power={api.power}
              discardSavedState={api.discardSavedState}
              watchProgress={api.watchProgress}
              onDone={refresh}
            />
          )}
          {links.vmDisplay &&
            details?.config.hardware.display &&
            (state === 'running' || state === 'paused') && (
              <a className="button button--secondary" href={links.vmDisplay(vmId)}>
                <MonitorIcon />
                Open screen
              </a>
            )}
          {links.vmConsole && (state === 'running' || state === 'paused') && (
            <a className="button button--secondary" href={links.vmConsole(vmId)}>
              <TerminalIcon />
              Console
            </a>
          )}
          {links.vmSnapshots && (
            <a className="button button--secondary" href={links.vmSnapshots(vmId)}>
              <CameraIcon />
              Snapshots
            </a>
          )}
          {details && (
            <a className="button button--secondary" href={links.vmSettings(vmId)}>
              <SettingsIcon />
              Settings
            </a>
          )}
          {actionsSlot}
        </div>
      </header>

      <ExitNotice summary={summary} state={state} />

      <div className="vm-page__grid">
        <figure className="vm-screen">
          {screenshot ? (
            <img className="vm-screen__image" src={screenshot} alt={`The screen of ${name}`} />
          ) : (
            <div className={`vm-screen__placeholder vm-screen__placeholder--${state}`}>
              <MonitorIcon width={40} height={40} />
              <span>{screenPlaceholderText(state)}</span>
            </div>
          )}
        </figure>

        {details ? (
          <HardwareSummary config={details.config} />
        ) : error ? (
          <div role="alert" className="inline-alert">
            <AlertIcon />
            <p>
              Couldn’t read this VM’s settings: <InlineCode text={error.message} />
            </p>
          </div>
        ) : null}
      </div>

      {details && (
        <section className="vm-section" aria-labelledby="notes-title">
          <h2 id="notes-title" className="vm-section__title">
            Notes
          </h2>
          {details.config.notes.trim() ? (
            <p className="vm-notes">{details.config.notes}</p>
          ) : (
            <p className="vm-notes vm-notes--empty">
              No notes. <a href={links.vmSettings(vmId)}>Add notes in Settings</a>
            </p>
          )}
        </section>
      )}

      {snapshotsSlot && (
        <section className="vm-section" aria-labelledby="snapshots-title">
          <h2 id="snapshots-title" className="vm-section__title">
            Recent snapshots
          </h2>
          {snapshotsSlot}
        </section>
      )}

      {api.deleteVm && !isPoweredOn(state) && (
        <DeleteVm
          vmId={vmId}
          name={name}
          confirm={confirmDelete}
          deleteVm={api.deleteVm}
          onDeleted={() => {
            refresh();
            onDeleted?.();
          }}
        />
      )}
    </div>
  );
}

function screenPlaceholderText(state: VmBadgeState): string {
  switch (state) {
    case 'running':
      return 'Running';
    case 'paused':
      return 'Paused';
    case 'off':
      return 'Powered off';
    case 'suspended':
      return 'Suspended: Resume continues where it was';
    default:
      return badgeLabels[state];
  }
}

/** Why the VM stopped, when it did not stop cleanly. */
function ExitNotice({ summary, state }: { summary: VmSummary; state: VmBadgeState }) {
  if (state !== 'crashed' && state !== 'error' && state !== 'unresponsive') return null;
  const reason =
    summary.lastExit?.error?.message ?? summary.detail ?? summary.lastExit?.reason ?? null;
  const title =
    state === 'crashed'
      ? 'The VM stopped unexpectedly'
      : state === 'unresponsive'
        ? 'The VM is not responding'
        : 'The VM failed the last time it started';
  return (
    <div role="alert" className="inline-alert">
      <AlertIcon />
      <div>
        <p className="inline-alert__title">{title}</p>
        {reason && (
          <p>
            <InlineCode text={reason} />
          </p>
        )}
        <p className="inline-alert__hint">
          Its log is in <code>logs/vm.log</code> in the VM’s folder.
        </p>
      </div>
    </div>
  );
}

interface DeleteVmProps {
  vmId: string;
  name: string;
  confirm: boolean;
  deleteVm: NonNullable<ReturnType<typeof useLibrary>['api']['deleteVm']>;
  onDeleted: () => void;
}

function DeleteVm({ vmId, name, confirm, deleteVm, onDeleted }: DeleteVmProps) {
  const toast = useToast();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);

  async function remove() {
    setBusy(true);
    try {
      const outcome = await deleteVm({ id: vmId });
      setAsking(false);
      toast.notify({
        tone: 'success',
        title: `Deleted ${name}`,
        message:
          outcome.method === 'permanent'
            ? 'Its folder was erased.'
            : `Its folder is in the trash${outcome.location ? `: ${outcome.location}` : ''}.`,
      });
      onDeleted();
    } catch (error) {
      toast.notify({
        tone: 'error',
        title: `Couldn’t delete ${name}`,
        message: errorMessage(error),
      });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="vm-section vm-section--danger" aria-labelledby="delete-title">
      <h2 id="delete-title" className="vm-section__title">
        Delete
      </h2>
      <p className="vm-section__text">
        Moves the VM’s folder, with its disks and snapshots, to the trash.
      </p>
      <div>
        <Button
          variant="danger"
          busy={busy && !asking}
          onClick={() => (confirm ? setAsking(true) : void remove())}
        >
          <TrashIcon />
          Delete VM…
        </Button>
      </div>
      {asking && (
        <ConfirmDialog
          title={`Delete ${name}?`}
          message="Its folder, with its disks and snapshots, moves to the trash. You can restore it from there."
          confirmLabel="Delete"
          busyLabel="Deleting…"
          danger
          onConfirm={remove}
          onCancel={() => setAsking(false)}
        />
      )}
    </section>
  );
}
