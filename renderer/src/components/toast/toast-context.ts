import { createContext, useContext } from 'react';

export type ToastTone = 'success' | 'error' | 'info';

export interface ToastInput {
  tone?: ToastTone;
  /** One short sentence: "Started “Alpine”", "Couldn’t revert". */
  title: string;
  /** The detail: the service's message, what to do next. */
  message?: string;
}

export interface ToastApi {
  /** Shows a toast and returns its id. Errors stay until dismissed; the others fade. */
  notify(toast: ToastInput): number;
  dismiss(id: number): void;
}

export const ToastContext = createContext<ToastApi | null>(null);

/** Results and errors for the user, announced through the app's one live region. */
export function useToast(): ToastApi {
  const api = useContext(ToastContext);
  if (!api) throw new Error('useToast() needs a <ToastProvider> above it.');
  return api;
}
