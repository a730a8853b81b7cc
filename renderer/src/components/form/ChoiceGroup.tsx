import { useId, type ReactNode } from 'react';
import './form.css';

export interface Choice<T extends string> {
  value: T;
  label: ReactNode;
  description?: ReactNode;
}

interface ChoiceGroupProps<T extends string> {
  legend: ReactNode;
  name?: string;
  value: T;
  choices: readonly Choice<T>[];
  onChange: (value: T) => void;
  disabled?: boolean;
  note?: ReactNode;
  /** Cards side by side (a few big choices) or a plain list. */
  layout?: 'cards' | 'list';
}

/** Radio buttons in a fieldset: arrow keys move between them, as the platform does. */
export function ChoiceGroup<T extends string>({
  legend,
  name,
  value,
  choices,
  onChange,
  disabled,
  note,
  layout = 'list',
}: ChoiceGroupProps<T>) {
  const generated = useId();
  const groupName = name ?? generated;
  const noteId = `${generated}-note`;
  return (
    <fieldset
      className={`choice-group choice-group--${layout}`}
      disabled={disabled}
      aria-describedby={note ? noteId : undefined}
    >
      <legend className="field__label">{legend}</legend>
      <div className="choice-group__options">
        {choices.map((choice) => (
          <label key={choice.value} className="choice">
            <input
              type="radio"
              name={groupName}
              value={choice.value}
              checked={choice.value === value}
              onChange={() => onChange(choice.value)}
            />
            <span className="choice__text">
              <span className="choice__label">{choice.label}</span>
              {choice.description && (
                <span className="choice__description">{choice.description}</span>
              )}
            </span>
          </label>
        ))}
      </div>
      {note && (
        <p id={noteId} className="field__note">
          {note}
        </p>
      )}
    </fieldset>
  );
}

interface CheckboxProps {
  label: ReactNode;
  checked: boolean;
  onChange: (checked: boolean) => void;
  description?: ReactNode;
  disabled?: boolean;
}

export function Checkbox({ label, checked, onChange, description, disabled }: CheckboxProps) {
  return (
    <label className="choice">
      <input
        type="checkbox"
        checked={checked}
        disabled={disabled}
        onChange={(event) => onChange(event.target.checked)}
      />
      <span className="choice__text">
        <span className="choice__label">{label}</span>
        {description && <span className="choice__description">{description}</span>}
      </span>
    </label>
  );
}
