import { ChoiceGroup } from '../../../../components/form/ChoiceGroup.tsx';
import { Field, TextField } from '../../../../components/form/Field.tsx';
import { parseWhole } from '../../model/vm-form.ts';
import { vramFor } from '../../model/vm-limits.ts';
import type { SectionProps } from './section-props.ts';

const presets = [
  [800, 600],
  [1024, 768],
  [1280, 720],
  [1280, 800],
  [1280, 1024],
  [1366, 768],
  [1600, 900],
  [1920, 1080],
  [2560, 1440],
] as const;

const CUSTOM = 'custom';

/** A graphical display and its size, or none (the serial console only). */
export function DisplaySection({ form, lockNote }: SectionProps) {
  const { values, set, update, touch, errorFor } = form;
  const note = lockNote?.('hardware.display');
  const locked = note !== undefined;
  const current = `${values.displayWidth}x${values.displayHeight}`;
  const isPreset = presets.some(([w, h]) => `${w}x${h}` === current);
  const width = parseWhole(values.displayWidth);
  const height = parseWhole(values.displayHeight);
  const vram =
    !errorFor('displayWidth') && !errorFor('displayHeight') && width > 0 && height > 0
      ? vramFor(width, height)
      : null;

  return (
    <div className="form-section">
      <ChoiceGroup
        legend="Display"
        layout="cards"
        value={values.displayEnabled ? 'window' : 'none'}
        onChange={(value) => set('displayEnabled', value === 'window')}
        disabled={locked}
        note={note}
        choices={[
          { value: 'window', label: 'Graphical display', description: 'A screen in a window.' },
          {
            value: 'none',
            label: 'None',
            description: 'Headless: the serial console only.',
          },
        ]}
      />
      {values.displayEnabled && (
        <>
          <Field label="Resolution" hint="The guest may change it later, up to 8192 × 8192.">
            {(control) => (
              <select
                {...control}
                className="select select--narrow"
                disabled={locked}
                value={isPreset ? current : CUSTOM}
                onChange={(event) => {
                  const [w, h] = event.target.value.split('x');
                  if (w && h) update(() => ({ displayWidth: w, displayHeight: h }));
                  else if (isPreset) update(() => ({ displayWidth: '', displayHeight: '' }));
                }}
              >
                {presets.map(([w, h]) => (
                  <option key={`${w}x${h}`} value={`${w}x${h}`}>
                    {w} × {h}
                  </option>
                ))}
                <option value={CUSTOM}>Custom…</option>
              </select>
            )}
          </Field>
          {!isPreset && (
            <div className="form-section__row">
              <TextField
                label="Width"
                value={values.displayWidth}
                onValueChange={(value) => set('displayWidth', value)}
                onBlur={() => touch('displayWidth')}
                error={errorFor('displayWidth')}
                disabled={locked}
                inputMode="numeric"
                suffix="pixels"
                className="input--number"
              />
              <TextField
                label="Height"
                value={values.displayHeight}
                onValueChange={(value) => set('displayHeight', value)}
                onBlur={() => touch('displayHeight')}
                error={errorFor('displayHeight')}
                disabled={locked}
                inputMode="numeric"
                suffix="pixels"
                className="input--number"
              />
            </div>
          )}
          {vram !== null && <p className="field__hint">Video memory: {vram} MiB.</p>}
        </>
      )}
    </div>
  );
}
