import { useState } from 'react';
import { Button } from '../../../components/Button.tsx';
import { CopyIcon } from '../../../components/icons.tsx';
import type { VmDetails } from '../../../client/contract.ts';
import type { CloneApi } from '../api/clone-api.ts';
import { CloneVmDialog } from './CloneVmDialog.tsx';

interface CloneVmButtonProps {
  api: CloneApi;
  source: { id: string; name: string };
  /** A VM that runs is cloned from a snapshot instead: its disks are changing. */
  poweredOn: boolean;
  onCloned: (vm: VmDetails) => void;
}

/** "Clone…" on a VM's page: a full copy of its current state. */
export function CloneVmButton({ api, source, poweredOn, onCloned }: CloneVmButtonProps) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button
        disabled={poweredOn}
        title={
          poweredOn
            ? 'Power the VM off to clone it, or clone one of its snapshots'
            : 'A new VM with a copy of this one’s disks'
        }
        onClick={() => setOpen(true)}
      >
        <CopyIcon />
        Clone…
      </Button>
      {open && (
        <CloneVmDialog
          api={api}
          source={source}
          onCloned={(vm) => {
            setOpen(false);
            onCloned(vm);
          }}
          onCancel={() => setOpen(false)}
        />
      )}
    </>
  );
}
