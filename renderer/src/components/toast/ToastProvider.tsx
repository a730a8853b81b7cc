import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { AlertIcon, CheckCircleIcon, CloseIcon } from '../icons.tsx';
import { ToastContext, type ToastApi, type ToastInput, type ToastTone } from './toast-context.ts';
import './toast.css';

interface ToastItem {
  id: number;
  tone: ToastTone;
  title: string;
  message?: string;
}

interface ToastProviderProps {
  children: ReactNode;
  /** How long a success or info toast stays; errors stay until dismissed. */
  durationMs?: number;
  /** Older toasts go when more than this many are shown. */
  maxVisible?: number;
}

/**
 * Toasts for results and errors, in one polite live region that exists from the start
 * (screen readers only announce changes to a region they already know).
 */
export function ToastProvider({ children, durationMs = 6000, maxVisible = 4 }: ToastProviderProps) {
  const [toasts, setToasts] = useState<ToastItem[]>([]);
  const nextId = useRef(1);
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());

  const dismiss = useCallback((id: number) => {
    const timer = timers.current.get(id);
    if (timer !== undefined) clearTimeout(timer);
    timers.current.delete(id);
    setToasts((current) => current.filter((toast) => toast.id !== id));
  }, []);

  const notify = useCallback(
    ({ tone = 'info', title, message }: ToastInput) => {
      const id = nextId.current++;
      setToasts((current) => [...current, { id, tone, title, message }].slice(-maxVisible));
      if (tone !== 'error') {
        timers.current.set(
          id,
          setTimeout(() => dismiss(id), durationMs),
        );
      }
      return id;
    },
    [dismiss, durationMs, maxVisible],
  );

  useEffect(() => {
    const pending = timers.current;
    return () => {
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
    };
  }, []);

  const api = useMemo<ToastApi>(() => ({ notify, dismiss }), [notify, dismiss]);

  return (
    <ToastContext value={api}>
      {children}
      <section className="toast-region" aria-label="Notifications">
        <ol className="toast-region__list" aria-live="polite" aria-relevant="additions text">
          {toasts.map((toast) => (
            <li key={toast.id} className={`toast toast--${toast.tone}`}>
              {toast.tone === 'error' ? (
                <AlertIcon className="toast__icon" />
              ) : (
                <CheckCircleIcon className="toast__icon" />
              )}
              <div className="toast__body">
                <p className="toast__title">{toast.title}</p>
                {toast.message && <p className="toast__message">{toast.message}</p>}
              </div>
              <button
                type="button"
                className="toast__close"
                aria-label={`Dismiss: ${toast.title}`}
                onClick={() => dismiss(toast.id)}
              >
                <CloseIcon width={16} height={16} />
              </button>
            </li>
          ))}
        </ol>
      </section>
    </ToastContext>
  );
}
