import type { VmForm } from '../../hooks/use-vm-form.ts';
import type { ResourceLimits } from '../../model/host-limits.ts';
import type { PowerOffField } from '../../model/vm-limits.ts';

export interface SectionProps {
  form: VmForm;
  mode: 'create' | 'edit';
  limits: ResourceLimits;
  /**
   * Settings of a VM that runs: the note for a field that needs it powered off (the field is
   * then read-only), or undefined when the field may change now.
   */
  lockNote?: (field: PowerOffField) => string | undefined;
}

export const POWER_OFF_NOTE = 'Needs the VM powered off';
