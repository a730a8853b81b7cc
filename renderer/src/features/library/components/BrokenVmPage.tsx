import { useState } from 'react';
import { Button } from '../../../components/Button.tsx';
import { ConfirmDialog } from '../../../components/ConfirmDialog.tsx';
import { errorMessage } from '../../../components/format.ts';
import { FolderAlertIcon, TrashIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import { useLibrary } from '../hooks/library-context.tsx';
import { VmStateBadge } from './VmStateBadge.tsx';
import './library.css';

const fixes: Record<string, string> = {
  'missing-config':
    'The folder has no vm.json: it is not a Nestbox VM, or its creation never finished. Move it out of the library folder, or delete it.',
  unreadable: 'Check the permissions of the folder and its vm.json.',
  'too-large': 'vm.json is over 1 MiB, so Nestbox did not write it. Restore it from a backup.',
  'invalid-json': 'Fix the JSON at the place named above in a text editor, then come back.',
  'unsupported-version': 'A newer Nestbox made this VM. Update Nestbox to use it.',
  'invalid-config': 'Fix the fields named above in vm.json with a text editor, then come back.',
  'duplicate-id':
    'This folder is a copy of another VM (same id). Remove the copy, or give it a new id in vm.json.',
  'folder-missing': 'The folder was imported from a place that is gone: mount the drive again.',
};

/** A folder in the library that is not a usable VM, what is wrong and how to fix it. */
export function BrokenVmPage({ folder, onDeleted }: { folder: string; onDeleted?: () => void }) {
  const { list, api, refresh } = useLibrary();
  const toast = useToast();
  const [asking, setAsking] = useState(false);
  const entry = list?.broken.find((broken) => broken.folder === folder);

  if (!list) return <p aria-busy="true">Loading…</p>;
  if (!entry) {
    return (
      <div className="vm-page">
        <h1 className="page-title">This folder is fine again</h1>
        <p>
          It is no longer listed as broken. <a href="#/">Back to the library</a>
        </p>
      </div>
    );
  }

  const deleteVm = api.deleteVm;
  async function remove() {
    if (!deleteVm) return;
    try {
      await deleteVm({ folder });
      setAsking(false);
      toast.notify({ tone: 'success', title: 'Moved the folder to the trash' });
      refresh();
      onDeleted?.();
    } catch (error) {
      toast.notify({
        tone: 'error',
        title: 'Couldn’t delete the folder',
        message: errorMessage(error),
      });
    }
  }

  return (
    <div className="vm-page">
      <title>Broken folder · Nestbox</title>
      <header className="vm-page__header">
        <div className="vm-page__heading">
          <h1 className="page-title">{folder.split('/').filter(Boolean).at(-1)}</h1>
          <VmStateBadge state="broken" />
        </div>
        <p className="vm-page__folder">
          <code>{folder}</code>
        </p>
      </header>
      <div className="inline-alert" role="alert">
        <FolderAlertIcon />
        <div>
          <p className="inline-alert__title">This folder can’t be used as a VM</p>
          <p className="broken-message">
            <InlineCode text={entry.message} />
          </p>
          {fixes[entry.code] && <p className="inline-alert__hint">{fixes[entry.code]}</p>}
        </div>
      </div>
      {deleteVm && (
        <div>
          <Button variant="danger" onClick={() => setAsking(true)}>
            <TrashIcon />
            Delete folder…
          </Button>
        </div>
      )}
      {asking && (
        <ConfirmDialog
          title="Delete this folder?"
          message={`${folder} and everything in it moves to the trash.`}
          confirmLabel="Delete"
          busyLabel="Deleting…"
          danger
          onConfirm={remove}
          onCancel={() => setAsking(false)}
        />
      )}
    </div>
  );
}
