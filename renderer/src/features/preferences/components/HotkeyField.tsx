import { useId, useMemo, useState, type KeyboardEvent } from 'react';
import { Button } from '../../../components/Button.tsx';
import { DEFAULT_HOTKEY } from '../utils/defaults.ts';
import { HotkeyRecorder, describeHotkey } from '../utils/hotkey.ts';

interface HotkeyFieldProps {
  label: string;
  value: string;
  onChange: (hotkey: string) => void;
  hint?: string;
}

/** A shortcut, changed by pressing it: "Record" listens for the next combination. */
export function HotkeyField({ label, value, onChange, hint }: HotkeyFieldProps) {
  const [recording, setRecording] = useState(false);
  const [preview, setPreview] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const recorder = useMemo(() => new HotkeyRecorder(), []);
  const labelId = useId();
  const statusId = useId();
  const hintId = useId();

  function handle(event: KeyboardEvent<HTMLButtonElement>, pressed: boolean) {
    if (!recording) return;
    event.preventDefault();
    event.stopPropagation();
    if (pressed && event.repeat) return;
    const result = pressed ? recorder.keyDown(event.code) : recorder.keyUp(event.code);
    switch (result.kind) {
      case 'pending':
        setPreview(result.preview);
        break;
      case 'done':
        setRecording(false);
        setPreview('');
        setProblem(null);
        onChange(result.hotkey);
        break;
      case 'invalid':
        setPreview('');
        setProblem(result.message);
        break;
      case 'cancelled':
        setRecording(false);
        setPreview('');
        setProblem(null);
        break;
    }
  }

  return (
    <div className="field hotkey-field" role="group" aria-labelledby={labelId}>
      <span id={labelId} className="field__label">
        {label}
      </span>
      <div className="hotkey-field__row">
        <kbd className="hotkey-field__keys" aria-describedby={hint ? hintId : undefined}>
          {describeHotkey(value)}
        </kbd>
        <Button
          size="small"
          aria-pressed={recording}
          aria-describedby={statusId}
          onClick={() => {
            setProblem(null);
            setRecording((on) => !on);
          }}
          onKeyDown={(event) => handle(event, true)}
          onKeyUp={(event) => handle(event, false)}
          onBlur={() => setRecording(false)}
        >
          {recording ? 'Press the new shortcut…' : 'Change…'}
        </Button>
        {value !== DEFAULT_HOTKEY && !recording && (
          <Button size="small" variant="ghost" onClick={() => onChange(DEFAULT_HOTKEY)}>
            Reset to Ctrl+Alt
          </Button>
        )}
      </div>
      <p id={statusId} className={problem ? 'field__error' : 'field__hint'}>
        {problem ??
          (recording
            ? preview
              ? `${describeHotkey(preview)}…`
              : 'Hold the modifiers, then press a key or let go. Esc cancels.'
            : '')}
      </p>
      {hint && (
        <p id={hintId} className="field__hint">
          {hint}
        </p>
      )}
    </div>
  );
}
