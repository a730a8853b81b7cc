import { TextField } from '../../../../components/form/Field.tsx';
import { formatMiB } from '../../../../components/format.ts';
import { memoryWarning } from '../../model/validate.ts';
import { parseWhole } from '../../model/vm-form.ts';
import type { SectionProps } from './section-props.ts';

/** Processors and memory, bounded by what this computer has. */
export function ResourcesSection({ form, limits, lockNote }: SectionProps) {
  const { values, set, touch, errorFor } = form;
  const cpuNote = lockNote?.('hardware.cpus');
  const memoryNote = lockNote?.('hardware.memoryMiB');
  const memory = parseWhole(values.memoryMiB);
  const warning = memoryWarning(values, limits);
  const cpuHint =
    limits.hostCpus !== null
      ? `1 to ${limits.maxCpus}: this computer has ${limits.hostCpus} logical CPUs.`
      : `1 to ${limits.maxCpus}.`;
  const memoryHint = [
    Number.isNaN(memory) || memory < 1024 ? null : `${formatMiB(memory)}.`,
    limits.hostMemoryMiB !== null
      ? `This computer has ${formatMiB(limits.hostMemoryMiB)}.`
      : `64 to ${limits.maxMemoryMiB} MiB.`,
    warning,
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <div className="form-section form-section--columns">
      <TextField
        label="Processors"
        value={values.cpus}
        onValueChange={(value) => set('cpus', value)}
        onBlur={() => touch('cpus')}
        error={errorFor('cpus')}
        note={cpuNote}
        disabled={cpuNote !== undefined}
        hint={cpuHint}
        inputMode="numeric"
        className="input--number"
      />
      <TextField
        label="Memory"
        value={values.memoryMiB}
        onValueChange={(value) => set('memoryMiB', value)}
        onBlur={() => touch('memoryMiB')}
        error={errorFor('memoryMiB')}
        note={memoryNote}
        disabled={memoryNote !== undefined}
        hint={memoryHint}
        inputMode="numeric"
        suffix="MiB"
        className="input--number"
      />
    </div>
  );
}
