import './ProgressBar.css';

interface ProgressBarProps {
  /** What is under way: "Taking snapshot…". Names the progressbar. */
  label: string;
  /** 0..1, or null when the end is not known yet (an indeterminate bar). */
  fraction: number | null;
}

export function ProgressBar({ label, fraction }: ProgressBarProps) {
  const percent = fraction === null ? null : Math.round(Math.min(1, Math.max(0, fraction)) * 100);
  return (
    <div className="progress">
      <div className="progress__label">
        <span>{label}</span>
        {percent !== null && <span className="progress__percent">{percent}%</span>}
      </div>
      <div
        className={
          percent === null ? 'progress__track progress__track--indeterminate' : 'progress__track'
        }
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
      >
        {/* React sets style through the CSSOM, which the page's CSP (no inline styles) allows. */}
        <div
          className="progress__fill"
          style={percent === null ? undefined : { width: `${percent}%` }}
        />
      </div>
    </div>
  );
}
