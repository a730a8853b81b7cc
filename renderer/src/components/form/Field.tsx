import { useId, type InputHTMLAttributes, type ReactNode } from 'react';
import './form.css';

/** What a control needs to be tied to its label, hint and error message. */
export interface FieldControlProps {
  id: string;
  'aria-describedby'?: string;
  'aria-invalid'?: true;
}

interface FieldProps {
  label: ReactNode;
  /** Shown next to the control and read with it; null or undefined when the value is fine. */
  error?: string | null;
  /** Help that stays: units, limits, what the field is for. */
  hint?: ReactNode;
  /** A condition on changing the field ("needs the VM powered off"). */
  note?: ReactNode;
  className?: string;
  children: (control: FieldControlProps) => ReactNode;
}

/** One labelled control with its hint, note and error, each referenced by aria-describedby. */
export function Field({ label, error, hint, note, className, children }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const noteId = `${id}-note`;
  const errorId = `${id}-error`;
  const describedBy = [error ? errorId : null, note ? noteId : null, hint ? hintId : null]
    .filter(Boolean)
    .join(' ');
  return (
    <div className={['field', error && 'field--invalid', className].filter(Boolean).join(' ')}>
      <label className="field__label" htmlFor={id}>
        {label}
      </label>
      {children({
        id,
        'aria-describedby': describedBy || undefined,
        'aria-invalid': error ? true : undefined,
      })}
      {error && (
        <p id={errorId} className="field__error">
          {error}
        </p>
      )}
      {note && (
        <p id={noteId} className="field__note">
          {note}
        </p>
      )}
      {hint && (
        <p id={hintId} className="field__hint">
          {hint}
        </p>
      )}
    </div>
  );
}

interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'id'> {
  label: ReactNode;
  value: string;
  onValueChange: (value: string) => void;
  error?: string | null;
  hint?: ReactNode;
  note?: ReactNode;
  /** Text after the input: a unit. */
  suffix?: ReactNode;
  fieldClassName?: string;
}

/** A text input in a Field. Numbers use it too (inputMode numeric): bad input stays visible. */
export function TextField({
  label,
  value,
  onValueChange,
  error,
  hint,
  note,
  suffix,
  fieldClassName,
  className,
  ...inputProps
}: TextFieldProps) {
  return (
    <Field label={label} error={error} hint={hint} note={note} className={fieldClassName}>
      {(control) => (
        <span className="field__control">
          <input
            type="text"
            spellCheck={false}
            autoComplete="off"
            {...inputProps}
            {...control}
            className={['input', className].filter(Boolean).join(' ')}
            value={value}
            onChange={(event) => onValueChange(event.target.value)}
          />
          {suffix && <span className="field__suffix">{suffix}</span>}
        </span>
      )}
    </Field>
  );
}
