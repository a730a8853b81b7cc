import { useState } from 'react';
import { Button } from '../../../components/Button.tsx';
import { FolderOpenIcon } from '../../../components/icons.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import { useLibrary } from '../hooks/library-context.tsx';
import { OpenVmFolderDialog, type OpenedVm } from './OpenVmFolderDialog.tsx';

/** Goes to an app route href ("#/vms/…"), as the app's own links do. */
function go(href: string): void {
  window.location.hash = href;
}

interface OpenVmFolderButtonProps {
  /** 'icon': the sidebar's small button beside "New virtual machine". */
  look?: 'button' | 'icon';
  navigate?: (href: string) => void;
}

/**
 * "Open VM folder…" where the library offers "New VM": the dialog, then the VM's page and a
 * toast saying it was added (or that it was in the library already). Nothing when the
 * services cannot import.
 */
export function OpenVmFolderButton({ look = 'button', navigate = go }: OpenVmFolderButtonProps) {
  const { api, list, links, refresh } = useLibrary();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const { importVm } = api;
  if (!importVm) return null;

  function opened(vm: OpenedVm) {
    setOpen(false);
    toast.notify(
      vm.alreadyInLibrary
        ? { tone: 'info', title: `${vm.name} is in the library already` }
        : {
            tone: 'success',
            title: `Added ${vm.name} to the library`,
            message: 'Its folder stays where it is.',
          },
    );
    refresh();
    navigate(links.vm(vm.id));
  }

  return (
    <>
      {look === 'icon' ? (
        <button
          type="button"
          className="library-nav__new"
          title="Open a VM folder"
          onClick={() => setOpen(true)}
        >
          <FolderOpenIcon width={16} height={16} />
          <span className="visually-hidden">Open VM folder…</span>
        </button>
      ) : (
        <Button onClick={() => setOpen(true)}>
          <FolderOpenIcon />
          Open VM folder…
        </Button>
      )}
      {open && (
        <OpenVmFolderDialog
          importVm={importVm}
          list={list}
          onOpened={opened}
          onCancel={() => setOpen(false)}
        />
      )}
    </>
  );
}
