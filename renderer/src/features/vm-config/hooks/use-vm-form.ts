import { useCallback, useMemo, useState } from 'react';
import { validateVmForm, type FormErrors, type ValidationContext } from '../model/validate.ts';
import type { VmFormValues } from '../model/vm-form.ts';

/** The value at a field key: `cpus`, `portForwards.0.hostPort`, `disks.1.file`. */
function valueAt(values: VmFormValues, field: string): unknown {
  let value: unknown = values;
  for (const part of field.split('.')) {
    value = (value as Record<string, unknown> | undefined)?.[part];
  }
  return value;
}

export interface VmForm {
  values: VmFormValues;
  /** Every problem, shown or not: what gates Next and Save. */
  errors: FormErrors;
  set<K extends keyof VmFormValues>(key: K, value: VmFormValues[K]): void;
  /** A change computed from the current values (lists). */
  update(change: (values: VmFormValues) => Partial<VmFormValues>): void;
  /** The field lost focus: its problem shows from now on. */
  touch(field: string): void;
  /** The message to show next to a field now, if any. */
  errorFor(field: string): string | undefined;
  /** Problems the services reported, by field (shown until the field changes). */
  setServerErrors(errors: FormErrors): void;
  /** Whether the values differ from where the form started. */
  dirty: boolean;
}

/**
 * The form's state and when to show each problem: once the field was left or changed from
 * where it started, so a fresh form is not a wall of red, and never hidden from someone who
 * typed something wrong.
 */
export function useVmForm(initial: VmFormValues, context: ValidationContext): VmForm {
  const [values, setValues] = useState(initial);
  const [touched, setTouched] = useState<ReadonlySet<string>>(() => new Set());
  const [serverErrors, setServerErrorsState] = useState<FormErrors>({});
  const errors = useMemo(() => validateVmForm(values, context), [values, context]);

  const dropServerErrors = useCallback((keys: readonly string[]) => {
    setServerErrorsState((current) => {
      const isStale = (field: string) =>
        keys.some((key) => field === key || field.startsWith(`${key}.`));
      if (!Object.keys(current).some(isStale)) return current;
      return Object.fromEntries(Object.entries(current).filter(([field]) => !isStale(field)));
    });
  }, []);

  const set = useCallback(
    <K extends keyof VmFormValues>(key: K, value: VmFormValues[K]) => {
      setValues((current) => ({ ...current, [key]: value }));
      dropServerErrors([key]);
    },
    [dropServerErrors],
  );

  const update = (change: (values: VmFormValues) => Partial<VmFormValues>) => {
    const patch = change(values);
    setValues((current) => ({ ...current, ...patch }));
    dropServerErrors(Object.keys(patch));
  };

  const touch = useCallback((field: string) => {
    setTouched((current) => (current.has(field) ? current : new Set(current).add(field)));
  }, []);

  const errorFor = (field: string): string | undefined => {
    const fromService = serverErrors[field];
    if (fromService) return fromService;
    const message = errors[field];
    if (!message) return undefined;
    const value = valueAt(values, field);
    const nested = field.includes('.');
    const changed = nested ? value !== '' : value !== valueAt(initial, field);
    return touched.has(field) || changed ? message : undefined;
  };

  return {
    values,
    errors,
    set,
    update,
    touch,
    errorFor,
    setServerErrors: setServerErrorsState,
    dirty: JSON.stringify(values) !== JSON.stringify(initial),
  };
}
