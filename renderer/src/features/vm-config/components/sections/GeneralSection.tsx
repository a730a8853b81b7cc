import { ChoiceGroup } from '../../../../components/form/ChoiceGroup.tsx';
import { Field, TextField } from '../../../../components/form/Field.tsx';
import type { SectionProps } from './section-props.ts';

/** Name, guest type and notes: these may change at any time, even while the VM runs. */
export function GeneralSection({ form, mode }: SectionProps) {
  const { values, set, touch, errorFor } = form;
  return (
    <div className="form-section">
      <TextField
        label="Name"
        value={values.name}
        onValueChange={(value) => set('name', value)}
        onBlur={() => touch('name')}
        error={errorFor('name')}
        hint={mode === 'create' ? 'The VM’s folder is named after it too.' : undefined}
        required
      />
      <ChoiceGroup
        legend="Guest operating system"
        value={values.guestOs}
        onChange={(value) => set('guestOs', value)}
        choices={[
          { value: 'linux', label: 'Linux', description: 'Booted from its kernel file' },
          { value: 'other', label: 'Other', description: 'Any other kernel Nestbox can load' },
        ]}
      />
      <Field label="Notes" error={errorFor('notes')} hint="Optional: what this VM is for.">
        {(control) => (
          <textarea
            {...control}
            className="textarea"
            value={values.notes}
            rows={mode === 'create' ? 3 : 4}
            onChange={(event) => set('notes', event.target.value)}
            onBlur={() => touch('notes')}
          />
        )}
      </Field>
    </div>
  );
}
