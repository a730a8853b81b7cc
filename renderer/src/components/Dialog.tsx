import {
  useEffect,
  useId,
  useRef,
  type KeyboardEvent,
  type ReactNode,
  type RefObject,
} from 'react';
import { createPortal } from 'react-dom';
import './Dialog.css';

interface DialogProps {
  title: string;
  /** Read out with the title when the dialog opens. */
  description?: ReactNode;
  /** Escape, and whatever the caller wires to Cancel. */
  onClose: () => void;
  children?: ReactNode;
  /** The buttons, right-aligned at the bottom. */
  footer?: ReactNode;
  /** What gets focus first; otherwise the first field or button inside. */
  initialFocusRef?: RefObject<HTMLElement | null>;
  /** 'alertdialog' for confirmations that interrupt (revert, delete). */
  role?: 'dialog' | 'alertdialog';
  /** Wraps the content in a form, so Enter in a field submits. */
  onSubmit?: () => void;
}

const focusableSelector = [
  'a[href]',
  'button:not([disabled])',
  'input:not([disabled])',
  'select:not([disabled])',
  'textarea:not([disabled])',
  '[tabindex]:not([tabindex="-1"])',
].join(',');

/**
 * A modal dialog: focus moves in, Tab stays inside, Escape closes, and focus returns to
 * whatever opened it. Rendered in a portal so no parent's overflow or stacking clips it.
 */
export function Dialog({
  title,
  description,
  onClose,
  children,
  footer,
  initialFocusRef,
  role = 'dialog',
  onSubmit,
}: DialogProps) {
  const titleId = useId();
  const descriptionId = useId();
  const panelRef = useRef<HTMLDivElement>(null);
  const onCloseRef = useRef(onClose);

  useEffect(() => {
    onCloseRef.current = onClose;
  });

  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const target =
      initialFocusRef?.current ??
      panelRef.current?.querySelector<HTMLElement>(focusableSelector) ??
      panelRef.current;
    target?.focus();
    return () => {
      // Back to the control that opened the dialog, if it is still there.
      if (opener && opener.isConnected) opener.focus();
    };
    // Focus once, when the dialog opens.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === 'Escape') {
      event.stopPropagation();
      event.preventDefault();
      onCloseRef.current();
      return;
    }
    if (event.key !== 'Tab' || !panelRef.current) return;
    const focusable = [...panelRef.current.querySelectorAll<HTMLElement>(focusableSelector)];
    const first = focusable[0];
    const last = focusable.at(-1);
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  const content = (
    <>
      <h2 id={titleId} className="dialog__title">
        {title}
      </h2>
      {description !== undefined && (
        <div id={descriptionId} className="dialog__description">
          {description}
        </div>
      )}
      {children}
      {footer && <div className="dialog__footer">{footer}</div>}
    </>
  );

  return createPortal(
    <div className="dialog-backdrop">
      <div
        ref={panelRef}
        className="dialog"
        role={role}
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={description !== undefined ? descriptionId : undefined}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        {onSubmit ? (
          <form
            className="dialog__form"
            noValidate
            onSubmit={(event) => {
              event.preventDefault();
              onSubmit();
            }}
          >
            {content}
          </form>
        ) : (
          content
        )}
      </div>
    </div>,
    document.body,
  );
}
