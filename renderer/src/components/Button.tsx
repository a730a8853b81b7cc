import type { ButtonHTMLAttributes } from 'react';
import './Button.css';

interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost';
  size?: 'normal' | 'small';
  /** Shows that the action is under way; the button stays focusable but does nothing. */
  busy?: boolean;
  busyLabel?: string;
}

export function Button({
  variant = 'secondary',
  size = 'normal',
  busy = false,
  busyLabel,
  className,
  children,
  onClick,
  type = 'button',
  ...props
}: ButtonProps) {
  return (
    <button
      {...props}
      type={type}
      className={['button', `button--${variant}`, size === 'small' && 'button--small', className]
        .filter(Boolean)
        .join(' ')}
      aria-disabled={busy || undefined}
      aria-busy={busy || undefined}
      // aria-disabled rather than disabled: the button keeps focus while the action runs.
      onClick={busy ? undefined : onClick}
    >
      {busy && <span className="button__spinner" aria-hidden="true" />}
      {busy && busyLabel ? busyLabel : children}
    </button>
  );
}
