import { Button } from '../../../components/Button.tsx';
import { AlertIcon, PlusIcon } from '../../../components/icons.tsx';
import { InlineCode } from '../../../components/InlineCode.tsx';
import { useLibrary } from '../hooks/library-context.tsx';
import { useTryDemo } from '../hooks/use-try-demo.ts';
import { badgeStateOf } from '../utils/vm-state.ts';
import { EmptyLibrary } from './EmptyLibrary.tsx';
import { OpenVmFolderButton } from './OpenVmFolderButton.tsx';
import { VmStateBadge } from './VmStateBadge.tsx';
import './library.css';

interface LibraryHomeProps {
  /**
   * Makes a ready-made demo VM. Without it the empty library still offers the demo when the
   * library API can make one (`demoGuest`, `createVm`, `power.start`) and the host has it.
   */
  onTryDemo?: () => Promise<void>;
}

/** The home screen: every VM as a card, or what to do when there is none. */
export function LibraryHome({ onTryDemo }: LibraryHomeProps) {
  const { list, error, refresh, links } = useLibrary();
  const demo = useTryDemo();

  return (
    <div className="library-home">
      <title>Library · Nestbox</title>
      <div className="library-home__header">
        <h1 className="page-title" tabIndex={-1}>
          Library
        </h1>
        {list && list.vms.length + list.broken.length > 0 && (
          <div className="library-home__actions">
            <OpenVmFolderButton />
            <a className="button button--primary" href={links.newVm}>
              <PlusIcon />
              New VM
            </a>
          </div>
        )}
      </div>

      {error && (
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <div>
            <p className="inline-alert__title">Couldn’t read the library</p>
            <p>
              <InlineCode text={error.message} />
            </p>
          </div>
          <Button onClick={refresh}>Retry</Button>
        </div>
      )}

      {demo.error && (
        <div role="alert" className="inline-alert">
          <AlertIcon />
          <div>
            <p className="inline-alert__title">Couldn’t set up the demo VM</p>
            <p>
              <InlineCode text={demo.error.message} />
            </p>
          </div>
        </div>
      )}

      {list?.registryProblem && (
        <div className="inline-alert inline-alert--warning">
          <AlertIcon />
          <p>
            <InlineCode text={list.registryProblem} />
          </p>
        </div>
      )}

      {!list && !error && (
        <p className="library-home__loading" aria-busy="true">
          Reading the library…
        </p>
      )}

      {list && list.vms.length + list.broken.length === 0 && (
        <EmptyLibrary
          newVmHref={links.newVm}
          onTryDemo={onTryDemo ?? demo.tryDemo}
          openVmFolder={<OpenVmFolderButton />}
        />
      )}

      {list && list.vms.length + list.broken.length > 0 && (
        <ul className="vm-cards" aria-label="Virtual machines">
          {list.vms.map((vm) => (
            <li key={vm.id}>
              <a className="vm-card" href={links.vm(vm.id)}>
                <span className="vm-card__name">{vm.name}</span>
                <VmStateBadge state={badgeStateOf(vm)} />
              </a>
            </li>
          ))}
          {list.broken.map((entry) => (
            <li key={entry.folder}>
              <a className="vm-card vm-card--broken" href={links.brokenVm(entry.folder)}>
                <span className="vm-card__name">
                  {entry.folder.split('/').filter(Boolean).at(-1)}
                </span>
                <VmStateBadge state="broken" />
              </a>
            </li>
          ))}
        </ul>
      )}
      {list && (
        <p className="library-home__root">
          Library folder: <code>{list.root}</code>
        </p>
      )}
    </div>
  );
}
