import { useEffect, useState, type KeyboardEvent } from 'react';
import { Button } from '../../../components/Button.tsx';
import { ChoiceGroup, Checkbox } from '../../../components/form/ChoiceGroup.tsx';
import { TextField } from '../../../components/form/Field.tsx';
import { errorIssues, errorMessage } from '../../../components/format.ts';
import { AlertIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import { HotkeyField } from './HotkeyField.tsx';
import type {
  AppSettings,
  AppSettingsPatch,
  AppSettingsState,
  PreferencesApi,
} from '../api/preferences-api.ts';
import './preferences.css';

interface PreferencesScreenProps {
  api: PreferencesApi;
  /** The settings now in force, e.g. to apply the theme at once. */
  onSaved?: (settings: AppSettings) => void;
}

/** Preferences: where VMs live, the look, the release shortcut, quitting and confirmations. */
export function PreferencesScreen({ api, onSaved }: PreferencesScreenProps) {
  const [loaded, setLoaded] = useState<AppSettingsState | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const getSettings = api.getSettings;

  useEffect(() => {
    let current = true;
    getSettings().then(
      (state) => current && setLoaded(state),
      (reason: unknown) => current && setLoadError(errorMessage(reason)),
    );
    return () => {
      current = false;
    };
  }, [getSettings]);

  return (
    <div className="preferences">
      <title>Preferences · Nestbox</title>
      <h1 className="page-title" tabIndex={-1}>
        Preferences
      </h1>
      {loadError && (
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <p>
            Couldn’t read the preferences: <InlineCode text={loadError} />
          </p>
        </div>
      )}
      {!loaded && !loadError && (
        <p className="loading-text" aria-busy="true">
          Loading preferences…
        </p>
      )}
      {loaded?.problem && (
        <div className="inline-alert inline-alert--warning">
          <AlertIcon />
          <div>
            <p className="inline-alert__title">Some preferences were reset</p>
            <p>
              <InlineCode text={loaded.problem.message} />
            </p>
            {loaded.problem.keptAs && (
              <p className="inline-alert__hint">
                The old file is kept as <code>{loaded.problem.keptAs}</code>.
              </p>
            )}
          </div>
        </div>
      )}
      {loaded && (
        <PreferencesForm
          settings={loaded.settings}
          save={api.updateSettings}
          onSaved={(settings) => {
            setLoaded({ settings });
            onSaved?.(settings);
          }}
        />
      )}
    </div>
  );
}

// eslint-disable-next-line no-control-regex -- control characters are what we look for
const controlCharacter = /[\u0000-\u001f\u007f]/;

function folderProblem(useDefault: boolean, folder: string): string | null {
  if (useDefault) return null;
  if (folder.trim() === '') return 'Enter the folder, or choose the default location.';
  if (!folder.startsWith('/')) return 'Use the full path, starting with /.';
  if (folder.length > 4096) return 'Paths may be at most 4,096 characters.';
  if (controlCharacter.test(folder)) return 'The path cannot contain tabs or line breaks.';
  return null;
}

/** The settings a form edit would change: only what differs. */
export function preferencesPatch(before: AppSettings, after: AppSettings): AppSettingsPatch | null {
  const patch: AppSettingsPatch = {};
  if (before.vmFolder !== after.vmFolder) patch.vmFolder = after.vmFolder;
  if (before.theme !== after.theme) patch.theme = after.theme;
  if (before.hotkeys.releaseKeyboard !== after.hotkeys.releaseKeyboard) {
    patch.hotkeys = { releaseKeyboard: after.hotkeys.releaseKeyboard };
  }
  const confirmations: NonNullable<AppSettingsPatch['confirmations']> = {};
  if (before.confirmations.deleteVm !== after.confirmations.deleteVm) {
    confirmations.deleteVm = after.confirmations.deleteVm;
  }
  if (before.confirmations.revertSnapshot !== after.confirmations.revertSnapshot) {
    confirmations.revertSnapshot = after.confirmations.revertSnapshot;
  }
  if (Object.keys(confirmations).length > 0) patch.confirmations = confirmations;
  if (before.onQuitWithRunningVms !== after.onQuitWithRunningVms) {
    patch.onQuitWithRunningVms = after.onQuitWithRunningVms;
  }
  return Object.keys(patch).length > 0 ? patch : null;
}

interface PreferencesFormProps {
  settings: AppSettings;
  save: PreferencesApi['updateSettings'];
  onSaved: (settings: AppSettings) => void;
}

function PreferencesForm({ settings, save, onSaved }: PreferencesFormProps) {
  const toast = useToast();
  const [draft, setDraft] = useState<AppSettings>(settings);
  const [useDefaultFolder, setUseDefaultFolder] = useState(settings.vmFolder === null);
  const [folder, setFolder] = useState(settings.vmFolder ?? '');
  const [folderTouched, setFolderTouched] = useState(false);
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<{ message: string; issues: string[] } | null>(null);

  const folderError = folderProblem(useDefaultFolder, folder);
  const next: AppSettings = { ...draft, vmFolder: useDefaultFolder ? null : folder.trim() };
  const patch = folderError ? null : preferencesPatch(settings, next);

  async function submit() {
    if (!patch || saving) return;
    setSaving(true);
    setProblem(null);
    try {
      const saved = await save(patch);
      toast.notify({ tone: 'success', title: 'Preferences saved' });
      setDraft(saved);
      setUseDefaultFolder(saved.vmFolder === null);
      setFolder(saved.vmFolder ?? '');
      onSaved(saved);
    } catch (error) {
      setProblem({
        message: errorMessage(error),
        issues: errorIssues(error).map((issue) =>
          issue.path ? `${issue.path}: ${issue.message}` : issue.message,
        ),
      });
    } finally {
      setSaving(false);
    }
  }

  function revert() {
    setDraft(settings);
    setUseDefaultFolder(settings.vmFolder === null);
    setFolder(settings.vmFolder ?? '');
    setFolderTouched(false);
    setProblem(null);
  }

  function onKeyDown(event: KeyboardEvent<HTMLFormElement>) {
    if (event.key === 'Escape' && !event.defaultPrevented && patch) {
      event.preventDefault();
      revert();
    }
  }

  return (
    <form
      className="preferences__form"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
      onKeyDown={onKeyDown}
    >
      <section className="form-panel" aria-labelledby="prefs-library">
        <h2 id="prefs-library" className="form-panel__title">
          Library
        </h2>
        <ChoiceGroup
          legend="VM folder"
          value={useDefaultFolder ? 'default' : 'custom'}
          onChange={(value) => setUseDefaultFolder(value === 'default')}
          choices={[
            {
              value: 'default',
              label: 'Default location',
              description: '~/.local/share/nestbox/vms (or $NESTBOX_HOME/vms)',
            },
            { value: 'custom', label: 'Another folder' },
          ]}
        />
        {!useDefaultFolder && (
          <TextField
            label="Folder"
            value={folder}
            onValueChange={setFolder}
            onBlur={() => setFolderTouched(true)}
            error={folderTouched || folder !== (settings.vmFolder ?? '') ? folderError : null}
            hint="The library shows the VMs in this folder. VMs in the old one stay where they are."
            placeholder="/srv/vms"
            className="input--mono"
          />
        )}
      </section>

      <section className="form-panel" aria-labelledby="prefs-look">
        <h2 id="prefs-look" className="form-panel__title">
          Appearance
        </h2>
        <ChoiceGroup
          legend="Theme"
          value={draft.theme}
          onChange={(theme) => setDraft({ ...draft, theme })}
          choices={[
            { value: 'system', label: 'Follow the system' },
            { value: 'light', label: 'Light' },
            { value: 'dark', label: 'Dark' },
          ]}
        />
      </section>

      <section className="form-panel" aria-labelledby="prefs-keyboard">
        <h2 id="prefs-keyboard" className="form-panel__title">
          Keyboard
        </h2>
        <HotkeyField
          label="Release the keyboard from a VM"
          value={draft.hotkeys.releaseKeyboard}
          onChange={(releaseKeyboard) => setDraft({ ...draft, hotkeys: { releaseKeyboard } })}
          hint="While a VM’s screen has the keyboard, every other key goes to the VM."
        />
      </section>

      <section className="form-panel" aria-labelledby="prefs-quit">
        <h2 id="prefs-quit" className="form-panel__title">
          Quitting
        </h2>
        <ChoiceGroup
          legend="When Nestbox quits with VMs running"
          value={draft.onQuitWithRunningVms}
          onChange={(onQuitWithRunningVms) => setDraft({ ...draft, onQuitWithRunningVms })}
          choices={[
            {
              value: 'keep-running',
              label: 'Keep them running',
              description:
                'They run on in the background; Nestbox finds them again when it starts.',
            },
            {
              value: 'suspend',
              label: 'Suspend them',
              description: 'Save each VM’s state to disk; it resumes where it was.',
            },
            {
              value: 'power-off',
              label: 'Power them off',
              description: 'Like pulling the plug: unsaved work in the guests is lost.',
            },
          ]}
        />
      </section>

      <section className="form-panel" aria-labelledby="prefs-confirm">
        <h2 id="prefs-confirm" className="form-panel__title">
          Confirmations
        </h2>
        <Checkbox
          label="Ask before deleting a VM"
          checked={draft.confirmations.deleteVm}
          onChange={(deleteVm) =>
            setDraft({ ...draft, confirmations: { ...draft.confirmations, deleteVm } })
          }
        />
        <Checkbox
          label="Ask before reverting to a snapshot"
          checked={draft.confirmations.revertSnapshot}
          onChange={(revertSnapshot) =>
            setDraft({ ...draft, confirmations: { ...draft.confirmations, revertSnapshot } })
          }
        />
      </section>

      {problem && (
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <div>
            <p className="inline-alert__title">Couldn’t save the preferences</p>
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
        <p className="form-footer__status">{patch ? 'Unsaved changes' : ''}</p>
        <Button onClick={revert} disabled={!patch || saving}>
          Revert
        </Button>
        <Button type="submit" variant="primary" disabled={!patch} busy={saving} busyLabel="Saving…">
          Save
        </Button>
      </div>
    </form>
  );
}
