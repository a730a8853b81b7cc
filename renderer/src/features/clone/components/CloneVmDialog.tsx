import { useState } from 'react';
import { Button } from '../../../components/Button.tsx';
import { Dialog } from '../../../components/Dialog.tsx';
import { ChoiceGroup } from '../../../components/form/ChoiceGroup.tsx';
import { TextField } from '../../../components/form/Field.tsx';
import { errorIssues, errorMessage } from '../../../components/format.ts';
import { AlertIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import type { VmDetails } from '../../../client/contract.ts';
import type { CloneApi } from '../api/clone-api.ts';

/** As vm.json allows (the services check again): 1–128 characters, no control characters. */
const MAX_NAME = 128;
// eslint-disable-next-line no-control-regex -- control characters are what we look for
const controlCharacter = /[\u0000-\u001f\u007f]/;

export function checkCloneName(name: string): string | null {
  if (name.trim() === '') return 'Enter a name for the new VM.';
  if (name.length > MAX_NAME) return `Use at most ${MAX_NAME} characters (this is ${name.length}).`;
  if (controlCharacter.test(name)) return 'Use a name without tabs or line breaks.';
  return null;
}

type CloneKind = 'full' | 'linked';

interface CloneVmDialogProps {
  api: CloneApi;
  source: { id: string; name: string };
  /** Clone this snapshot's state; without it, the VM's current state (the VM must be off). */
  snapshot?: { id: string; name: string };
  onCloned: (vm: VmDetails) => void;
  onCancel: () => void;
}

/** "Clone…": a name for the new VM and, from a snapshot, a full copy or a linked clone. */
export function CloneVmDialog({ api, source, snapshot, onCloned, onCancel }: CloneVmDialogProps) {
  const initialName = `${source.name} copy`;
  const [name, setName] = useState(initialName);
  const [kind, setKind] = useState<CloneKind>('full');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [serverNameError, setServerNameError] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const localError = checkCloneName(name);
  const nameError = localError ?? serverNameError;

  async function submit() {
    setTouched(true);
    if (localError || busy) return;
    setBusy(true);
    setProblem(null);
    setServerNameError(null);
    try {
      const vm = await api.cloneVm(source.id, {
        name: name.trim(),
        ...(snapshot ? { snapshot: snapshot.id } : {}),
        ...(snapshot && kind === 'linked' ? { linked: true } : {}),
      });
      onCloned(vm);
    } catch (error) {
      const nameIssue = errorIssues(error).find((issue) => issue.path === 'name');
      if (nameIssue) setServerNameError(nameIssue.message);
      setProblem(errorMessage(error));
      setBusy(false);
    }
  }

  return (
    <Dialog
      title={snapshot ? `Clone ${source.name} from ${snapshot.name}` : `Clone ${source.name}`}
      description={
        snapshot
          ? 'A new VM with the same hardware, starting from this snapshot.'
          : 'A new VM with the same hardware and a copy of the disks as they are now.'
      }
      onClose={busy ? () => {} : onCancel}
      onSubmit={() => void submit()}
      footer={
        <>
          <Button onClick={onCancel} disabled={busy}>
            Cancel
          </Button>
          <Button
            type="submit"
            variant="primary"
            disabled={localError !== null}
            busy={busy}
            busyLabel="Cloning…"
          >
            Clone
          </Button>
        </>
      }
    >
      <TextField
        label="Name of the new VM"
        value={name}
        onValueChange={(value) => {
          setName(value);
          setServerNameError(null);
        }}
        onBlur={() => setTouched(true)}
        error={touched || name !== initialName ? nameError : null}
        maxLength={MAX_NAME + 64}
        required
      />
      {snapshot ? (
        <ChoiceGroup<CloneKind>
          legend="Kind of clone"
          value={kind}
          onChange={setKind}
          disabled={busy}
          choices={[
            {
              value: 'full',
              label: 'Full clone',
              description: 'Its own copy of the disks: independent, takes the space of the disks.',
            },
            {
              value: 'linked',
              label: 'Linked clone',
              description:
                'Made at once and small: it shares the snapshot’s disks, so the snapshot cannot be deleted while the clone exists.',
            },
          ]}
        />
      ) : (
        <p className="field__hint">
          A full copy. For a linked clone, which shares the disks, clone from a snapshot in the
          snapshot manager.
        </p>
      )}
      {problem && (
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <div>
            <p className="inline-alert__title">Couldn’t clone {source.name}</p>
            <p>
              <InlineCode text={problem} />
            </p>
          </div>
        </div>
      )}
    </Dialog>
  );
}
