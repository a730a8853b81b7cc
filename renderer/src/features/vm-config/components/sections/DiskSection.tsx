import { ChoiceGroup } from '../../../../components/form/ChoiceGroup.tsx';
import { Checkbox } from '../../../../components/form/ChoiceGroup.tsx';
import { Field, TextField } from '../../../../components/form/Field.tsx';
import type { ExistingDiskFormat, SizeUnit } from '../../model/vm-form.ts';
import type { SectionProps } from './section-props.ts';

/** A new VM's first disk (/dev/vda): a new empty image, an image that exists, or none. */
export function DiskSection({ form }: SectionProps) {
  const { values, set, touch, errorFor } = form;
  return (
    <div className="form-section">
      <ChoiceGroup
        legend="Disk"
        layout="cards"
        value={values.diskChoice}
        onChange={(value) => set('diskChoice', value)}
        choices={[
          {
            value: 'new',
            label: 'New disk',
            description: 'An empty qcow2 image in the VM’s folder; it grows as the guest writes.',
          },
          {
            value: 'existing',
            label: 'Existing disk image',
            description: 'A qcow2 or raw image you already have.',
          },
          {
            value: 'none',
            label: 'No disk',
            description: 'The guest runs from its initial ramdisk.',
          },
        ]}
      />
      {values.diskChoice === 'new' && (
        <div className="form-section__row">
          <TextField
            label="Size"
            value={values.newDiskSize}
            onValueChange={(value) => set('newDiskSize', value)}
            onBlur={() => touch('newDiskSize')}
            error={errorFor('newDiskSize')}
            hint="The most the guest can store; the file starts small."
            inputMode="decimal"
            className="input--number"
          />
          <Field label="Unit">
            {(control) => (
              <select
                {...control}
                className="select select--narrow"
                value={values.newDiskUnit}
                onChange={(event) => set('newDiskUnit', event.target.value as SizeUnit)}
              >
                <option value="GiB">GiB</option>
                <option value="MiB">MiB</option>
              </select>
            )}
          </Field>
        </div>
      )}
      {values.diskChoice === 'existing' && (
        <>
          <TextField
            label="Disk image"
            value={values.existingDiskPath}
            onValueChange={(value) => set('existingDiskPath', value)}
            onBlur={() => touch('existingDiskPath')}
            error={errorFor('existingDiskPath')}
            placeholder="/home/you/images/rootfs.qcow2"
            className="input--mono"
          />
          <Field label="Format" hint="Detected from the file’s header unless you name it.">
            {(control) => (
              <select
                {...control}
                className="select select--narrow"
                value={values.existingDiskFormat}
                onChange={(event) =>
                  set('existingDiskFormat', event.target.value as ExistingDiskFormat)
                }
              >
                <option value="detect">Detect</option>
                <option value="qcow2">qcow2</option>
                <option value="raw">raw</option>
              </select>
            )}
          </Field>
          <Checkbox
            label="Read-only"
            description="The guest cannot change the image."
            checked={values.existingDiskReadOnly}
            onChange={(checked) => set('existingDiskReadOnly', checked)}
          />
        </>
      )}
    </div>
  );
}
