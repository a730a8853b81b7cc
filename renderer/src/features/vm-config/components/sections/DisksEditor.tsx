import { Button } from '../../../../components/Button.tsx';
import { Checkbox } from '../../../../components/form/ChoiceGroup.tsx';
import { Field, TextField } from '../../../../components/form/Field.tsx';
import { PlusIcon, TrashIcon } from '../../../../components/icons.tsx';
import type { VmDiskFormat } from '../../../../../../electron/common/vm-details.ts';
import { newKey, type DiskDraft } from '../../model/vm-form.ts';
import { vmLimits } from '../../model/vm-limits.ts';
import type { SectionProps } from './section-props.ts';

/** An existing VM's disks in order (the first is /dev/vda): change, add or remove images. */
export function DisksEditor({ form, lockNote }: SectionProps) {
  const { values, update, touch, errorFor } = form;
  const note = lockNote?.('hardware.disks');
  const locked = note !== undefined;

  function change(index: number, patch: Partial<DiskDraft>) {
    update((current) => ({
      disks: current.disks.map((disk, i) => (i === index ? { ...disk, ...patch } : disk)),
    }));
  }

  return (
    <div className="form-section">
      {errorFor('disks') && <p className="field__error">{errorFor('disks')}</p>}
      {values.disks.length === 0 && <p className="form-section__empty">No disks.</p>}
      {note && values.disks.length === 0 && <p className="field__note">{note}</p>}
      <ol className="disk-list">
        {values.disks.map((disk, index) => (
          <li key={disk.key} className="disk-list__item">
            <TextField
              label={`Disk ${index + 1}${index === 0 ? ' (/dev/vda)' : ''}`}
              value={disk.file}
              onValueChange={(file) => change(index, { file })}
              onBlur={() => touch(`disks.${index}.file`)}
              error={errorFor(`disks.${index}.file`)}
              note={note}
              disabled={locked}
              className="input--mono"
            />
            <Field label={`Format of disk ${index + 1}`}>
              {(control) => (
                <select
                  {...control}
                  className="select select--narrow"
                  value={disk.format}
                  disabled={locked}
                  onChange={(event) =>
                    change(index, { format: event.target.value as VmDiskFormat })
                  }
                >
                  <option value="qcow2">qcow2</option>
                  <option value="raw">raw</option>
                </select>
              )}
            </Field>
            <Checkbox
              label="Read-only"
              checked={disk.readOnly}
              disabled={locked}
              onChange={(readOnly) => change(index, { readOnly })}
            />
            {!locked && (
              <Button
                variant="ghost"
                size="small"
                aria-label={`Remove disk ${index + 1}`}
                onClick={() =>
                  update((current) => ({ disks: current.disks.filter((_, i) => i !== index) }))
                }
              >
                <TrashIcon />
              </Button>
            )}
          </li>
        ))}
      </ol>
      {!locked && values.disks.length < vmLimits.maxDisks && (
        <div>
          <Button
            size="small"
            onClick={() =>
              update((current) => ({
                disks: [
                  ...current.disks,
                  { key: newKey('disk'), file: '', format: 'qcow2', readOnly: false },
                ],
              }))
            }
          >
            <PlusIcon />
            Add disk image
          </Button>
        </div>
      )}
      <p className="field__hint">
        Removing a disk here leaves its image file where it is. Relative paths start at the VM’s
        folder.
      </p>
    </div>
  );
}
