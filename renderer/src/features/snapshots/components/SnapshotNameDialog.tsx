import { useState } from 'react';
import { Button } from '../../../components/Button.tsx';
import { Dialog } from '../../../components/Dialog.tsx';
import { Field, TextField } from '../../../components/form/Field.tsx';

const MAX_NAME = 128;
// eslint-disable-next-line no-control-regex -- control characters are what we look for
const controlCharacter = /[\u0000-\u001f\u007f]/;

export function checkSnapshotName(name: string): string | null {
  if (name.trim() === '') return 'Enter a name for the snapshot.';
  if (name.length > MAX_NAME) return `Use at most ${MAX_NAME} characters (this is ${name.length}).`;
  if (controlCharacter.test(name)) return 'Use a name without tabs or line breaks.';
  return null;
}

interface SnapshotNameDialogProps {
  title: string;
  submitLabel: string;
  initialName: string;
  withDescription?: boolean;
  onSubmit: (values: { name: string; description: string }) => void;
  onCancel: () => void;
}

/** Name (and description) for a new snapshot, or a new name for one. Enter saves, Escape cancels. */
export function SnapshotNameDialog({
  title,
  submitLabel,
  initialName,
  withDescription = false,
  onSubmit,
  onCancel,
}: SnapshotNameDialogProps) {
  const [name, setName] = useState(initialName);
  const [description, setDescription] = useState('');
  const [touched, setTouched] = useState(false);
  const error = checkSnapshotName(name);

  return (
    <Dialog
      title={title}
      onClose={onCancel}
      onSubmit={() => {
        setTouched(true);
        if (!error) onSubmit({ name: name.trim(), description });
      }}
      footer={
        <>
          <Button onClick={onCancel}>Cancel</Button>
          <Button type="submit" variant="primary" disabled={error !== null}>
            {submitLabel}
          </Button>
        </>
      }
    >
      <TextField
        label="Name"
        value={name}
        onValueChange={setName}
        onBlur={() => setTouched(true)}
        error={touched || name !== initialName ? error : null}
      />
      {withDescription && (
        <Field label="Description" hint="Optional: what is special about this moment.">
          {(control) => (
            <textarea
              {...control}
              className="textarea"
              rows={3}
              value={description}
              onChange={(event) => setDescription(event.target.value)}
            />
          )}
        </Field>
      )}
    </Dialog>
  );
}
