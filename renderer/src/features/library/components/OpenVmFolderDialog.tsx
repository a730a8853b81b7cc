import { useState } from 'react';
import type { VmList } from '../../../client/contract.ts';
import { Button } from '../../../components/Button.tsx';
import { Dialog } from '../../../components/Dialog.tsx';
import { TextField } from '../../../components/form/Field.tsx';
import { errorIssues, errorMessage } from '../../../components/format.ts';
import { AlertIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import type { LibraryApi } from '../api/library-api.ts';

// eslint-disable-next-line no-control-regex -- control characters are what we look for
const controlCharacter = /[\u0000-\u001f\u007f]/;

/** What is wrong with the typed path before asking the services, or null. */
export function checkVmFolderPath(text: string): string | null {
  const folder = text.trim();
  if (folder === '') return 'Enter the path of the VM’s folder.';
  if (controlCharacter.test(folder)) return 'Use a path without tabs or line breaks.';
  if (folder.startsWith('~')) {
    return 'Enter the full path: ~ is not expanded here (for example /home/you/VMs/Web server).';
  }
  if (!folder.startsWith('/')) {
    return 'Enter the full path, starting with / (for example /media/usb/VMs/Web server).';
  }
  return null;
}

/** An absolute path as the library lists folders: no trailing or doubled slashes, no . or .. */
export function normalizeFolderPath(folder: string): string {
  const parts: string[] = [];
  for (const part of folder.trim().split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

export interface OpenedVm {
  id: string;
  name: string;
  /** It was in the library already: nothing was added, it is just shown. */
  alreadyInLibrary: boolean;
}

interface OpenVmFolderDialogProps {
  importVm: NonNullable<LibraryApi['importVm']>;
  /** The library as listed now: a folder that is in it already is found here and shown. */
  list: VmList | null;
  onOpened: (vm: OpenedVm) => void;
  onCancel: () => void;
}

interface Problem {
  title: string;
  message: string;
}

/**
 * "Open VM folder…": the path of a VM folder from elsewhere (another drive, a backup, a copy
 * from another computer), added to the library where it is. Problems with the folder are
 * shown next to the field; a broken vm.json with each of its problems.
 */
export function OpenVmFolderDialog({
  importVm,
  list,
  onOpened,
  onCancel,
}: OpenVmFolderDialogProps) {
  const [folder, setFolder] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [serverFolderError, setServerFolderError] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const localError = checkVmFolderPath(folder);
  const folderError = (touched ? localError : null) ?? serverFolderError;

  async function submit() {
    setTouched(true);
    if (localError || busy) return;
    const target = normalizeFolderPath(folder);
    setBusy(true);
    setProblem(null);
    setServerFolderError(null);
    try {
      const vm = await importVm(target);
      onOpened({ id: vm.id, name: vm.config.name, alreadyInLibrary: false });
      return;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'already-in-library') {
        const known = list?.vms.find((vm) => normalizeFolderPath(vm.folder) === target);
        if (known) {
          onOpened({ id: known.id, name: known.name, alreadyInLibrary: true });
          return;
        }
      }
      const folderIssue = errorIssues(error).find((issue) => issue.path === 'folder');
      if (folderIssue) {
        setServerFolderError(folderIssue.message);
      } else {
        setProblem({
          title:
            code === 'broken-vm'
              ? 'This VM’s vm.json is broken'
              : code === 'already-in-library'
                ? 'This VM is in the library already'
                : 'Couldn’t open the folder',
          message: errorMessage(error),
        });
      }
    }
    setBusy(false);
  }

  return (
    <Dialog
      title="Open a VM folder"
      description="Adds a virtual machine from another drive, a backup or another computer to the library. Its folder stays where it is."
      onClose={busy ? () => {} : onCancel}
      onSubmit={() => void submit()}
      footer={
        <>
          <Button onClick={onCancel} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant="primary" busy={busy} busyLabel="Opening…">
            Open
          </Button>
        </>
      }
    >
      <TextField
        label="VM folder"
        value={folder}
        onValueChange={(value) => {
          setFolder(value);
          setServerFolderError(null);
          setProblem(null);
        }}
        onBlur={() => {
          if (folder !== '') setTouched(true);
        }}
        error={folderError}
        hint="The folder that holds the VM’s vm.json, as a full path."
        placeholder="/media/usb/VMs/Web server"
        className="input--mono"
        required
      />
      {problem && (
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <div>
            <p className="inline-alert__title">{problem.title}</p>
            <p className="open-vm-folder__problem">
              <InlineCode text={problem.message} />
            </p>
          </div>
        </div>
      )}
    </Dialog>
  );
}
