import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { NestboxClientError } from '../../../client/client-error.ts';
import type { VmProgress } from '../../../client/contract.ts';
import { fakeSnapshotsApi, wireSnapshot } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import { SnapshotManagerPage } from './SnapshotManagerPage.tsx';

//  Base install (disk, with a picture)
//  └── Kernel 6.6 (memory)   ← you are here
const base = wireSnapshot({ id: 'base', name: 'Base install', thumbnail: true });
const kernel = wireSnapshot({
  id: 'kernel',
  parentId: 'base',
  name: 'Kernel 6.6',
  kind: 'memory',
  createdAt: '2025-02-01T10:00:00.000Z',
});

function setup(
  options: {
    api?: ReturnType<typeof fakeSnapshotsApi>;
    vmState?: string;
    onClone?: (node: { id: string; name: string }) => void;
  } = {},
) {
  const user = userEvent.setup();
  const api = options.api ?? fakeSnapshotsApi([base, kernel], 'kernel');
  const onVmChanged = vi.fn();
  renderWithProviders(
    <SnapshotManagerPage
      vmId="vm-1"
      vmName="Alpine"
      vmState={options.vmState ?? 'off'}
      api={api}
      backHref="#/vms/vm-1"
      onClone={options.onClone}
      onVmChanged={onVmChanged}
    />,
  );
  const tree = () => screen.getByRole('tree', { name: 'Snapshots' });
  // An item's accessible name is its name, then its details.
  const item = (name: string) =>
    within(tree()).getByRole('treeitem', {
      name: (accessible) => accessible === name || accessible.startsWith(`${name} `),
    });
  return { user, api, onVmChanged, tree, item };
}

describe('Snapshot manager page', () => {
  it('shows the tree with "you are here" under the current snapshot, and the pictures', async () => {
    const { api, item } = setup();
    expect(
      screen.getByRole('heading', { level: 1, name: 'Snapshots of Alpine' }),
    ).toBeInTheDocument();
    await waitFor(() => expect(item('Kernel 6.6')).toBeInTheDocument());
    expect(item('You are here')).toHaveAttribute('aria-level', '3');
    expect(item('You are here')).toHaveTextContent('The VM now, since Kernel 6.6');
    expect(api.list).toHaveBeenCalledWith('vm-1');

    // Only the snapshot that has a picture is asked for one, as a data: URL.
    await waitFor(() =>
      expect(item('Base install').querySelector('img')).toHaveAttribute(
        'src',
        'data:image/png;base64,base',
      ),
    );
    expect(api.thumbnail).toHaveBeenCalledExactlyOnceWith('vm-1', 'base');
    expect(screen.getByRole('link', { name: 'Back to summary' })).toHaveAttribute(
      'href',
      '#/vms/vm-1',
    );
  });

  it('takes a snapshot: the tree shows it, with "you are here" moved under it', async () => {
    const { user, api, item } = setup();
    await waitFor(() => expect(item('Kernel 6.6')).toBeInTheDocument());

    await user.click(screen.getByRole('button', { name: 'Take snapshot…' }));
    const dialog = screen.getByRole('dialog', { name: 'Take a snapshot' });
    const name = within(dialog).getByRole('textbox', { name: 'Name' });
    await user.clear(name);
    await user.type(name, 'Before upgrade{Enter}');

    expect(await screen.findByText('Took snapshot Before upgrade')).toBeInTheDocument();
    expect(screen.getByText('The VM was off, so it holds the disks.')).toBeInTheDocument();
    expect(api.take).toHaveBeenCalledWith('vm-1', { name: 'Before upgrade' });
    await waitFor(() => expect(item('Before upgrade')).toHaveAttribute('aria-level', '3'));
    expect(item('You are here')).toHaveAttribute('aria-level', '4');
    expect(item('You are here')).toHaveTextContent('since Before upgrade');
  });

  it('shows how far a running VM’s memory has been saved while it takes a snapshot', async () => {
    const api = fakeSnapshotsApi([base], 'base');
    let report: (progress: VmProgress) => void = () => {};
    const unsubscribe = vi.fn();
    api.watchProgress.mockImplementation((_vmId, onProgress) => {
      report = onProgress;
      return unsubscribe;
    });
    let finish: () => void = () => {};
    const take = api.take.getMockImplementation();
    api.take.mockImplementation(
      (vmId, snapshot) =>
        new Promise((resolve) => {
          finish = () => void take?.(vmId, snapshot).then(resolve);
        }),
    );
    const { user, item } = setup({ api, vmState: 'running' });
    await waitFor(() => expect(item('Base install')).toBeInTheDocument());

    await user.click(screen.getByRole('button', { name: 'Take snapshot…' }));
    await user.click(screen.getByRole('button', { name: 'Take snapshot' }));
    expect(api.watchProgress).toHaveBeenCalledWith('vm-1', expect.any(Function));
    act(() => report({ operation: 'take', done: 256, total: 1024 }));
    expect(screen.getByRole('progressbar', { name: 'Saving memory…' })).toHaveAttribute(
      'aria-valuenow',
      '25',
    );
    // Another operation's progress (a delete merging layers) is not the take's.
    act(() => report({ operation: 'delete', done: 1000, total: 1000 }));
    expect(screen.getByRole('progressbar', { name: 'Saving memory…' })).toHaveAttribute(
      'aria-valuenow',
      '25',
    );

    await act(async () => finish());
    expect(await screen.findByText('Took snapshot Snapshot 2')).toBeInTheDocument();
    expect(unsubscribe).toHaveBeenCalled();
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
  });

  it('asks before reverting, and says when a memory snapshot leaves the VM suspended', async () => {
    const { user, api, item, onVmChanged } = setup({ vmState: 'off' });
    await waitFor(() => expect(item('Kernel 6.6')).toBeInTheDocument());

    await user.click(item('Kernel 6.6'));
    await user.click(screen.getByRole('button', { name: 'Revert…' }));
    const confirm = screen.getByRole('alertdialog', { name: 'Revert to Kernel 6.6?' });
    expect(confirm).toHaveTextContent('stays suspended there');
    expect(api.revert).not.toHaveBeenCalled();
    await user.click(within(confirm).getByRole('button', { name: 'Revert' }));

    expect(api.revert).toHaveBeenCalledExactlyOnceWith('vm-1', 'kernel');
    expect(await screen.findByText('Reverted to Kernel 6.6')).toBeInTheDocument();
    expect(
      screen.getByText(
        'The VM is suspended at the snapshot: Resume continues from the moment it was taken.',
      ),
    ).toBeInTheDocument();
    expect(onVmChanged).toHaveBeenCalled();
  });

  it('deletes a snapshot and says how much space it freed', async () => {
    const { user, api, item } = setup();
    await waitFor(() => expect(item('Base install')).toBeInTheDocument());

    await user.click(item('Base install'));
    await user.click(screen.getByRole('button', { name: 'Delete…' }));
    await user.click(
      within(screen.getByRole('alertdialog', { name: 'Delete snapshot Base install?' })).getByRole(
        'button',
        { name: 'Delete' },
      ),
    );

    expect(api.remove).toHaveBeenCalledExactlyOnceWith('vm-1', 'base');
    expect(await screen.findByText('Deleted Base install')).toBeInTheDocument();
    expect(screen.getByText('Freed 1.5 GiB.')).toBeInTheDocument();
    await waitFor(() =>
      expect(screen.queryByRole('treeitem', { name: /^Base install/ })).not.toBeInTheDocument(),
    );
    expect(item('Kernel 6.6')).toHaveAttribute('aria-level', '1');
  });

  it('shows a refused action as an error toast with the service’s message', async () => {
    const api = fakeSnapshotsApi([base], 'base');
    api.take.mockRejectedValue(
      new NestboxClientError('remote', '“Alpine”: the disk list changed since the snapshots', {
        code: 'disk-configuration-changed',
      }),
    );
    const { user, item } = setup({ api });
    await waitFor(() => expect(item('Base install')).toBeInTheDocument());

    await user.click(screen.getByRole('button', { name: 'Take snapshot…' }));
    await user.click(screen.getByRole('button', { name: 'Take snapshot' }));
    expect(await screen.findByText('Taking snapshot failed')).toBeInTheDocument();
    expect(
      screen.getByText('“Alpine”: the disk list changed since the snapshots'),
    ).toBeInTheDocument();
  });

  it('offers to clone the selected snapshot', async () => {
    const onClone = vi.fn();
    const { user, item } = setup({ onClone });
    await waitFor(() => expect(item('Kernel 6.6')).toBeInTheDocument());
    // "You are here" is selected first: nothing to clone from yet.
    expect(screen.getByRole('button', { name: 'Clone…' })).toBeDisabled();

    await user.click(item('Kernel 6.6'));
    await user.click(screen.getByRole('button', { name: 'Clone…' }));
    expect(onClone).toHaveBeenCalledWith(expect.objectContaining({ id: 'kernel' }));
  });

  it('says when the snapshots cannot be read, and tries again', async () => {
    const api = fakeSnapshotsApi([base], 'base');
    api.list.mockRejectedValueOnce(new Error('snapshots/tree.json line 1, column 1: not JSON'));
    const { user, item } = setup({ api });
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'snapshots/tree.json line 1, column 1: not JSON',
    );
    await user.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(item('Base install')).toBeInTheDocument());
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });
});
