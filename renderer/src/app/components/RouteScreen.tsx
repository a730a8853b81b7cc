import { lazy, Suspense, useMemo, useState } from 'react';
import type { AppSettings, VmDetails } from '../../client/contract.ts';
import { useToast } from '../../components/toast/toast-context.ts';
import { CloneVmButton } from '../../features/clone/components/CloneVmButton.tsx';
import { CloneVmDialog } from '../../features/clone/components/CloneVmDialog.tsx';
import { DisplayCanvas } from '../../features/display/components/DisplayCanvas.tsx';
import type { DisplayConnection } from '../../features/display/display-connection.ts';
import { HostCheckScreen } from '../../features/host-check/components/HostCheckScreen.tsx';
import { BrokenVmPage } from '../../features/library/components/BrokenVmPage.tsx';
import { LibraryHome } from '../../features/library/components/LibraryHome.tsx';
import { VmSummaryPage } from '../../features/library/components/VmSummaryPage.tsx';
import { useLibrary } from '../../features/library/hooks/library-context.tsx';
import { badgeStateOf, isPoweredOn } from '../../features/library/utils/vm-state.ts';
import { PreferencesScreen } from '../../features/preferences/components/PreferencesScreen.tsx';
import { NewVmWizard } from '../../features/vm-config/components/NewVmWizard.tsx';
import { RecentSnapshotsSection } from '../../features/snapshots/components/RecentSnapshotsSection.tsx';
import { SnapshotManagerPage } from '../../features/snapshots/components/SnapshotManagerPage.tsx';
import type { SnapshotNode } from '../../features/snapshots/utils/snapshot-tree.ts';
import { VmSettingsScreen } from '../../features/vm-config/components/VmSettingsEditor.tsx';
import { hrefs, type Route } from '../routes.ts';
import type { AppServices } from '../services.ts';

// xterm.js is most of the console's weight: it loads when a console is first opened.
const SerialConsole = lazy(async () => ({
  default: (await import('../../features/console/components/XtermSerialConsole.tsx'))
    .XtermSerialConsole,
}));

interface RouteScreenProps {
  route: Route;
  services: AppServices;
  settings: AppSettings | null;
  onSettingsSaved: (settings: AppSettings) => void;
}

function go(href: string) {
  window.location.hash = href;
}

/** The screen for a route, wired to the services it needs. */
export function RouteScreen({ route, services, settings, onSettingsSaved }: RouteScreenProps) {
  const toast = useToast();
  switch (route.screen) {
    case 'this-computer':
      return <HostCheckScreen />;
    case 'vm':
      return (
        <VmRoute
          id={route.id}
          services={services}
          confirmDelete={settings?.confirmations.deleteVm ?? true}
        />
      );
    case 'vm-snapshots':
      return services.snapshots ? (
        <SnapshotsRoute
          id={route.id}
          api={services.snapshots}
          clone={services.clone}
          confirmRevert={settings?.confirmations.revertSnapshot ?? true}
        />
      ) : (
        <VmSummaryPage vmId={route.id} />
      );
    case 'vm-console':
      return services.console ? (
        <ConsoleRoute id={route.id} api={services.console} />
      ) : (
        <VmSummaryPage vmId={route.id} />
      );
    case 'vm-settings':
      return services.vmSettings ? (
        <VmSettingsRoute id={route.id} api={services.vmSettings} />
      ) : (
        <VmSummaryPage vmId={route.id} />
      );
    case 'vm-display':
      return services.openDisplay ? (
        <DisplayRoute
          id={route.id}
          open={services.openDisplay}
          releaseHotkey={settings?.hotkeys.releaseKeyboard}
        />
      ) : (
        <VmSummaryPage vmId={route.id} />
      );
    case 'broken-vm':
      return <BrokenVmPage folder={route.folder} onDeleted={() => go(hrefs.library)} />;
    case 'new-vm':
      return services.newVm ? (
        <NewVmWizard
          api={services.newVm}
          onCreated={(vm) => {
            toast.notify({ tone: 'success', title: `Created ${vm.config.name}` });
            go(hrefs.vm(vm.id));
          }}
          onCancel={() => window.history.back()}
        />
      ) : (
        <LibraryHome onTryDemo={services.tryDemo} />
      );
    case 'preferences':
      return services.preferences ? (
        <PreferencesScreen api={services.preferences} onSaved={onSettingsSaved} />
      ) : (
        <LibraryHome onTryDemo={services.tryDemo} />
      );
    case 'library':
      return <LibraryHome onTryDemo={services.tryDemo} />;
  }
}

/** Shows a new clone: a toast, the library asked again, and the clone's page. */
function useShowClone() {
  const toast = useToast();
  const { refresh } = useLibrary();
  return (vm: VmDetails) => {
    toast.notify({ tone: 'success', title: `Created ${vm.config.name}` });
    refresh();
    go(hrefs.vm(vm.id));
  };
}

interface VmRouteProps {
  id: string;
  services: AppServices;
  confirmDelete: boolean;
}

/** The summary page, with what other features add to it: recent snapshots, Clone…. */
function VmRoute({ id, services, confirmDelete }: VmRouteProps) {
  const { list } = useLibrary();
  const showClone = useShowClone();
  const summary = list?.vms.find((vm) => vm.id === id);
  const state = summary ? badgeStateOf(summary) : 'off';
  return (
    <VmSummaryPage
      vmId={id}
      confirmDelete={confirmDelete}
      onDeleted={() => go(hrefs.library)}
      snapshotsSlot={
        services.snapshots && (
          <RecentSnapshotsSection
            vmId={id}
            vmState={summary?.state ?? 'off'}
            api={services.snapshots}
            managerHref={hrefs.vmSnapshots(id)}
          />
        )
      }
      actionsSlot={
        services.clone &&
        summary && (
          <CloneVmButton
            api={services.clone}
            source={{ id, name: summary.name }}
            poweredOn={isPoweredOn(state)}
            onCloned={showClone}
          />
        )
      }
    />
  );
}

interface SnapshotsRouteProps {
  id: string;
  api: NonNullable<AppServices['snapshots']>;
  clone: AppServices['clone'];
  confirmRevert: boolean;
}

function SnapshotsRoute({ id, api, clone, confirmRevert }: SnapshotsRouteProps) {
  const { list, refresh } = useLibrary();
  const showClone = useShowClone();
  const [cloneFrom, setCloneFrom] = useState<SnapshotNode | null>(null);
  const summary = list?.vms.find((vm) => vm.id === id);
  // Loading, or not in the library: the summary page says which.
  if (!summary) return <VmSummaryPage vmId={id} />;
  return (
    <>
      <SnapshotManagerPage
        vmId={id}
        vmName={summary.name}
        vmState={summary.state}
        api={api}
        backHref={hrefs.vm(id)}
        confirmRevert={confirmRevert}
        onClone={clone ? setCloneFrom : undefined}
        onVmChanged={refresh}
      />
      {clone && cloneFrom && (
        <CloneVmDialog
          api={clone}
          source={{ id, name: summary.name }}
          snapshot={{ id: cloneFrom.id, name: cloneFrom.name }}
          onCloned={(vm) => {
            setCloneFrom(null);
            showClone(vm);
          }}
          onCancel={() => setCloneFrom(null)}
        />
      )}
    </>
  );
}

function ConsoleRoute({ id, api }: { id: string; api: NonNullable<AppServices['console']> }) {
  const { list } = useLibrary();
  const summary = list?.vms.find((vm) => vm.id === id);
  if (!summary) return <VmSummaryPage vmId={id} />;
  const state = badgeStateOf(summary);
  return (
    <div className="console-page">
      <title>{`Console of ${summary.name} · Nestbox`}</title>
      <div className="display-page__header">
        <h1 className="page-title" tabIndex={-1}>
          Console of {summary.name}
        </h1>
        <a href={hrefs.vm(id)}>Back to summary</a>
      </div>
      <Suspense fallback={<p className="loading-text">Loading the console…</p>}>
        <SerialConsole
          vmId={id}
          vmName={summary.name}
          api={api}
          running={state === 'running' || state === 'paused'}
        />
      </Suspense>
    </div>
  );
}

function VmSettingsRoute({ id, api }: { id: string; api: NonNullable<AppServices['vmSettings']> }) {
  const { list, refresh } = useLibrary();
  const summary = list?.vms.find((vm) => vm.id === id);
  return (
    <VmSettingsScreen
      vmId={id}
      api={api}
      poweredOn={summary ? isPoweredOn(badgeStateOf(summary)) : undefined}
      onSaved={() => {
        refresh();
        go(hrefs.vm(id));
      }}
      onCancel={() => go(hrefs.vm(id))}
    />
  );
}

interface DisplayRouteProps {
  id: string;
  open: NonNullable<AppServices['openDisplay']>;
  releaseHotkey: string | undefined;
}

function DisplayRoute({ id, open, releaseHotkey }: DisplayRouteProps) {
  const { list } = useLibrary();
  const name = list?.vms.find((vm) => vm.id === id)?.name ?? 'VM';
  const connection = useMemo(() => lazyConnection(() => open(id)), [open, id]);
  return (
    <div className="display-page">
      <title>{`${name} · Nestbox`}</title>
      <div className="display-page__header">
        <h1 className="page-title" tabIndex={-1}>
          {name}
        </h1>
        <a href={hrefs.vm(id)}>Back to summary</a>
      </div>
      <DisplayCanvas connection={connection} vmName={name} releaseHotkey={releaseHotkey} />
    </div>
  );
}

/**
 * A connection that opens when the display starts listening and closes when it stops, so
 * making one (during render) has no effect of its own.
 */
function lazyConnection(open: () => DisplayConnection & { close(): void }): DisplayConnection {
  let current: (DisplayConnection & { close(): void }) | null = null;
  return {
    onMessage(listener) {
      const opened = open();
      current = opened;
      const stop = opened.onMessage(listener);
      return () => {
        stop();
        opened.close();
        if (current === opened) current = null;
      };
    },
    ack: (sequence) => current?.ack(sequence),
    sendKey: (code, pressed) => current?.sendKey(code, pressed),
    pointerMove: (x, y) => current?.pointerMove(x, y),
    pointerButton: (button, pressed) => current?.pointerButton(button, pressed),
    wheel: (dx, dy) => current?.wheel(dx, dy),
    releaseAll: () => current?.releaseAll?.(),
    onEnd: (listener) => current?.onEnd?.(listener) ?? (() => {}),
  };
}
