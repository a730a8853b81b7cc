import { useEffect, useId, useMemo, useState, type KeyboardEvent, type ReactNode } from 'react';
import { Button } from '../../../components/Button.tsx';
import { ConfirmDialog } from '../../../components/ConfirmDialog.tsx';
import { errorIssues, errorMessage } from '../../../components/format.ts';
import { AlertIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import type { VmDetails, VmPatch, VmSettingsApi } from '../api/vm-config-api.ts';
import { useHostLimits } from '../hooks/use-host-limits.ts';
import { useVmForm } from '../hooks/use-vm-form.ts';
import type { ResourceLimits } from '../model/host-limits.ts';
import { fieldForIssuePath, type FormErrors, type ValidationContext } from '../model/validate.ts';
import { formFromConfig, toPatch } from '../model/vm-form.ts';
import { needsPowerOff, type PowerOffField } from '../model/vm-limits.ts';
import { BootSection } from './sections/BootSection.tsx';
import { DisksEditor } from './sections/DisksEditor.tsx';
import { DisplaySection } from './sections/DisplaySection.tsx';
import { GeneralSection } from './sections/GeneralSection.tsx';
import { NetworkSection } from './sections/NetworkSection.tsx';
import { ResourcesSection } from './sections/ResourcesSection.tsx';
import { POWER_OFF_NOTE, type SectionProps } from './sections/section-props.ts';
import './vm-config.css';

interface VmSettingsScreenProps {
  vmId: string;
  api: VmSettingsApi;
  /** Whether the VM runs, as the library sees it now; the config's own state until known. */
  poweredOn?: boolean;
  onSaved: (vm: VmDetails) => void;
  onCancel: () => void;
}

/** Loads a VM and this computer's limits, then shows the editor. */
export function VmSettingsScreen({
  vmId,
  api,
  poweredOn,
  onSaved,
  onCancel,
}: VmSettingsScreenProps) {
  const [loaded, setLoaded] = useState<{
    id: string;
    vm: VmDetails | null;
    error: string | null;
  }>();
  const host = useHostLimits(api.hostInfo);
  const getVm = api.getVm;

  useEffect(() => {
    let current = true;
    getVm(vmId).then(
      (vm) => current && setLoaded({ id: vmId, vm, error: null }),
      (reason: unknown) =>
        current && setLoaded({ id: vmId, vm: null, error: errorMessage(reason) }),
    );
    return () => {
      current = false;
    };
  }, [getVm, vmId]);

  const shown = loaded?.id === vmId ? loaded : undefined;
  if (shown?.error) {
    return (
      <div className="settings-page">
        <h1 className="page-title">Settings</h1>
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <p>
            Couldn’t read this VM’s settings: <InlineCode text={shown.error} />
          </p>
        </div>
      </div>
    );
  }
  if (!shown?.vm || host.status === 'loading') {
    return (
      <div className="settings-page" aria-busy="true">
        <p className="loading-text">Loading settings…</p>
      </div>
    );
  }
  return (
    <VmSettingsEditor
      key={shown.vm.id}
      vm={shown.vm}
      limits={host.limits}
      poweredOn={poweredOn ?? shown.vm.state !== 'off'}
      save={(patch) => api.updateVm(vmId, patch)}
      onSaved={onSaved}
      onCancel={onCancel}
    />
  );
}

interface VmSettingsEditorProps {
  vm: VmDetails;
  limits: ResourceLimits;
  /** Hardware and boot fields are read-only while the VM runs. */
  poweredOn: boolean;
  save: (patch: VmPatch) => Promise<VmDetails>;
  onSaved: (vm: VmDetails) => void;
  onCancel: () => void;
}

/** Every setting of one VM, grouped as the summary page shows them; saves only what changed. */
export function VmSettingsEditor({
  vm,
  limits,
  poweredOn,
  save,
  onSaved,
  onCancel,
}: VmSettingsEditorProps) {
  const toast = useToast();
  const [initial] = useState(() => formFromConfig(vm.config));
  const context = useMemo<ValidationContext>(() => ({ mode: 'edit', limits }), [limits]);
  const form = useVmForm(initial, context);
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<{ message: string; issues: string[] } | null>(null);
  const [confirmingDiscard, setConfirmingDiscard] = useState(false);
  const bannerId = useId();

  const patch = toPatch(vm.config, initial, form.values);
  const invalid = Object.keys(form.errors).length > 0;
  const name = vm.config.name;

  const lockNote = (field: PowerOffField) =>
    poweredOn && needsPowerOff(field) ? POWER_OFF_NOTE : undefined;
  const sectionProps: SectionProps = { form, mode: 'edit', limits, lockNote };

  async function submit() {
    if (!patch || invalid || saving) return;
    setSaving(true);
    setProblem(null);
    try {
      const saved = await save(patch);
      toast.notify({ tone: 'success', title: `Saved the settings of ${saved.config.name}` });
      onSaved(saved);
    } catch (error) {
      const issues = errorIssues(error);
      const serverErrors: FormErrors = {};
      for (const issue of issues) {
        const field = fieldForIssuePath(issue.path);
        if (field && !serverErrors[field]) serverErrors[field] = issue.message;
      }
      form.setServerErrors(serverErrors);
      setProblem({
        message: errorMessage(error),
        issues: issues.map((issue) =>
          issue.path ? `${issue.path}: ${issue.message}` : issue.message,
        ),
      });
      setSaving(false);
    }
  }

  function cancel() {
    if (form.dirty) setConfirmingDiscard(true);
    else onCancel();
  }

  function onKeyDown(event: KeyboardEvent<HTMLFormElement>) {
    if (event.key === 'Escape' && !event.defaultPrevented) {
      event.preventDefault();
      cancel();
    }
  }

  return (
    <div className="settings-page">
      <title>{`Settings of ${name} · Nestbox`}</title>
      <div className="settings-page__header">
        <h1 className="page-title" tabIndex={-1}>
          Settings of {name}
        </h1>
      </div>
      {poweredOn && (
        <div id={bannerId} className="inline-alert inline-alert--info">
          <AlertIcon />
          <p>
            {name} is running. Its name, guest type and notes can change now; hardware and boot
            settings need it powered off.
          </p>
        </div>
      )}
      <form
        className="settings-form"
        noValidate
        aria-describedby={poweredOn ? bannerId : undefined}
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
        onKeyDown={onKeyDown}
      >
        <SettingsGroup title="General">
          <GeneralSection {...sectionProps} />
        </SettingsGroup>
        <SettingsGroup title="Boot">
          <BootSection {...sectionProps} />
        </SettingsGroup>
        <SettingsGroup title="Processors and memory">
          <ResourcesSection {...sectionProps} />
        </SettingsGroup>
        <SettingsGroup title="Disks">
          <DisksEditor {...sectionProps} />
        </SettingsGroup>
        <SettingsGroup title="Network">
          <NetworkSection {...sectionProps} />
          {vm.config.hardware.network.mode === 'nat' && (
            <p className="field__hint">
              MAC address <code>{vm.config.hardware.network.macAddress}</code>, kept so the guest’s
              network setup stays.
            </p>
          )}
        </SettingsGroup>
        <SettingsGroup title="Display">
          <DisplaySection {...sectionProps} />
        </SettingsGroup>

        {problem && (
          <div role="alert" className="inline-alert">
            <AlertIcon />
            <div>
              <p className="inline-alert__title">Couldn’t save the settings</p>
              <p>
                <InlineCode text={problem.message} />
              </p>
              {problem.issues.length > 0 && (
                <ul>
                  {problem.issues.map((issue) => (
                    <li key={issue}>{issue}</li>
                  ))}
                </ul>
              )}
            </div>
          </div>
        )}

        <div className="form-footer">
          <p className="form-footer__status">
            {invalid ? 'Fix the fields marked in red to save.' : patch ? 'Unsaved changes' : ''}
          </p>
          <Button onClick={cancel} disabled={saving}>
            Cancel
          </Button>
          <Button
            type="submit"
            variant="primary"
            disabled={!patch || invalid}
            busy={saving}
            busyLabel="Saving…"
          >
            Save
          </Button>
        </div>
      </form>
      {confirmingDiscard && (
        <ConfirmDialog
          title="Discard your changes?"
          message="The settings you changed here will not be saved."
          confirmLabel="Discard"
          danger
          onConfirm={() => {
            setConfirmingDiscard(false);
            onCancel();
          }}
          onCancel={() => setConfirmingDiscard(false)}
        />
      )}
    </div>
  );
}

function SettingsGroup({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="form-panel" aria-labelledby={id}>
      <h2 id={id} className="form-panel__title">
        {title}
      </h2>
      {children}
    </section>
  );
}
