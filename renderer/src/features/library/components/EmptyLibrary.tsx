import { useState, type ReactNode } from 'react';
import { Button } from '../../../components/Button.tsx';
import { LogoMark, PlayIcon, PlusIcon } from '../../../components/icons.tsx';

interface EmptyLibraryProps {
  newVmHref: string;
  /** Makes and starts a ready-made small VM; left out when this build has none to offer. */
  onTryDemo?: () => Promise<void>;
  /** "Open VM folder…", for VMs that exist already (another drive, a backup). */
  openVmFolder?: ReactNode;
}

/** The first thing a new user sees: what a VM needs, and the ways to get one. */
export function EmptyLibrary({ newVmHref, onTryDemo, openVmFolder }: EmptyLibraryProps) {
  const [busy, setBusy] = useState(false);

  async function tryDemo() {
    if (!onTryDemo) return;
    setBusy(true);
    try {
      await onTryDemo();
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="empty-library" aria-labelledby="empty-library-title">
      <LogoMark className="logo-mark empty-library__logo" width={56} height={56} />
      <h2 id="empty-library-title" className="empty-library__title">
        No virtual machines yet
      </h2>
      <p className="empty-library__text">
        A virtual machine runs its own operating system in a window. To make one you need a Linux
        kernel to boot (a <code>bzImage</code> or <code>vmlinux</code>) and, usually, an initial
        ramdisk or a disk image with a root file system.
      </p>
      <div className="empty-library__actions">
        <a className="button button--primary" href={newVmHref}>
          <PlusIcon />
          Create a VM
        </a>
        {onTryDemo && (
          <Button busy={busy} busyLabel="Setting up the demo…" onClick={() => void tryDemo()}>
            <PlayIcon />
            Try the demo VM
          </Button>
        )}
        {openVmFolder}
      </div>
    </section>
  );
}
