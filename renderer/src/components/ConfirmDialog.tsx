import { useState, type ReactNode } from 'react';
import { Button } from './Button.tsx';
import { Dialog } from './Dialog.tsx';

interface ConfirmDialogProps {
  title: string;
  message: ReactNode;
  /** The verb on the confirming button: "Revert", "Delete". */
  confirmLabel: string;
  busyLabel?: string;
  /** Red for what loses data. */
  danger?: boolean;
  /** May return a promise: the dialog stays open, busy, until it settles. */
  onConfirm: () => unknown;
  onCancel: () => void;
}

/** "Are you sure?" with the consequence spelled out. Cancel has focus first: the safe choice. */
export function ConfirmDialog({
  title,
  message,
  confirmLabel,
  busyLabel,
  danger = false,
  onConfirm,
  onCancel,
}: ConfirmDialogProps) {
  const [busy, setBusy] = useState(false);

  async function confirm() {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog
      role="alertdialog"
      title={title}
      description={message}
      onClose={busy ? () => {} : onCancel}
      footer={
        <>
          <Button onClick={onCancel} disabled={busy}>
            Cancel
          </Button>
          <Button
            variant={danger ? 'danger' : 'primary'}
            busy={busy}
            busyLabel={busyLabel}
            onClick={() => void confirm()}
          >
            {confirmLabel}
          </Button>
        </>
      }
    />
  );
}
