import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { renderWithProviders } from '../../../test/render.tsx';
import type { SnapshotNode } from '../utils/snapshot-tree.ts';
import { SnapshotTreeView, type SnapshotTreeViewProps } from './SnapshotTreeView.tsx';

//  Base install (memory)
//  ├── Before upgrade
//  │   └── After upgrade   ← you are here
//  └── Experiment (disk)
const nodes: SnapshotNode[] = [
  {
    id: 'a',
    parentId: null,
    name: 'Base install',
    description: 'Fresh Alpine 3.21',
    createdAt: '2025-01-01T10:00:00Z',
    kind: 'memory',
    thumbnailUrl: 'data:image/png;base64,AA==',
  },
  {
    id: 'c',
    parentId: 'a',
    name: 'Experiment',
    description: '',
    createdAt: '2025-01-03T10:00:00Z',
    kind: 'disk',
    reclaimableBytes: 1.5 * 1024 ** 3,
  },
  {
    id: 'b',
    parentId: 'a',
    name: 'Before upgrade',
    description: '',
    createdAt: '2025-01-02T10:00:00Z',
    kind: 'memory',
  },
  {
    id: 'd',
    parentId: 'b',
    name: 'After upgrade',
    description: '',
    createdAt: '2025-01-04T10:00:00Z',
    kind: 'memory',
  },
];

function setup(props: Partial<SnapshotTreeViewProps> = {}) {
  const user = userEvent.setup();
  const callbacks = {
    onTake: vi.fn(async () => {}),
    onRevert: vi.fn(async () => {}),
    onDelete: vi.fn(async () => {}),
    onRename: vi.fn(async () => {}),
  };
  renderWithProviders(<SnapshotTreeView nodes={nodes} currentId="d" {...callbacks} {...props} />);
  const tree = screen.getByRole('tree', { name: 'Snapshots' });
  // An item's accessible name is its name, then its details ("Jan 1, 2025 · Memory and disks").
  const item = (name: string) =>
    within(tree).getByRole('treeitem', {
      name: (accessible) => accessible === name || accessible.startsWith(`${name} `),
    });
  return { user, tree, item, ...callbacks };
}

describe('Snapshot tree', () => {
  it('nests snapshots under their parents, oldest first, with "you are here" under the current one', () => {
    const { tree, item } = setup();
    const outline = within(tree)
      .getAllByRole('treeitem')
      .map((el) => {
        const [nameId = ''] = (el.getAttribute('aria-labelledby') ?? '').split(' ');
        const label = document.getElementById(nameId);
        return `${el.getAttribute('aria-level')} ${label?.textContent}`;
      });
    expect(outline).toEqual([
      '1 Base install',
      '2 Before upgrade',
      '3 After upgrade',
      '4 You are here',
      '2 Experiment',
    ]);
    expect(item('Base install')).toHaveAttribute('aria-expanded', 'true');
    expect(item('Experiment')).not.toHaveAttribute('aria-expanded');
    expect(item('Before upgrade')).toHaveAttribute('aria-posinset', '1');
    expect(item('Experiment')).toHaveAttribute('aria-posinset', '2');
    expect(item('Experiment')).toHaveAttribute('aria-setsize', '2');

    const here = item('You are here');
    // A flat list: the order and the levels make the tree.
    expect(item('After upgrade').nextElementSibling).toBe(here);
    expect(here).toHaveAttribute('aria-level', '4');
    expect(here).toHaveTextContent('The VM now, since After upgrade');
    expect(here).toHaveAttribute('aria-selected', 'true');
    expect(here).toHaveAttribute('tabindex', '0');
    // Only one item is in the Tab order (roving tabindex).
    expect(
      within(tree)
        .getAllByRole('treeitem')
        .filter((el) => el.tabIndex === 0),
    ).toEqual([here]);

    expect(item('Base install')).toHaveTextContent('Memory and disks');
    expect(item('Experiment')).toHaveTextContent('Disks only');
  });

  it('puts "you are here" at the top when the VM runs from no snapshot, and explains an empty tree', () => {
    renderWithProviders(
      <SnapshotTreeView
        nodes={[]}
        currentId={null}
        onTake={vi.fn()}
        onRevert={vi.fn()}
        onDelete={vi.fn()}
        onRename={vi.fn()}
      />,
    );
    expect(screen.getByText(/No snapshots yet/)).toBeInTheDocument();
    const here = screen.getByRole('treeitem', { name: 'You are here The VM now' });
    expect(here).toHaveAttribute('aria-level', '1');
    expect(screen.getByRole('button', { name: 'Revert…' })).toBeDisabled();
  });

  it('keeps the marker drawn before "You are here" out of its name', () => {
    setup();
    // A browser would read generated content or a visible "▶" as part of the name.
    const here = screen.getByRole('treeitem', { name: /^You are here/ });
    expect(here).toHaveAccessibleName('You are here The VM now, since After upgrade');
    expect(within(here).getByText('▶')).toHaveAttribute('aria-hidden', 'true');
  });

  it('moves with the arrow keys, opens and closes branches, jumps with Home and End', async () => {
    const { user, item } = setup();
    item('You are here').focus();

    await user.keyboard('{ArrowUp}');
    expect(item('After upgrade')).toHaveFocus();
    expect(item('After upgrade')).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByRole('complementary', { name: 'Details' })).toHaveTextContent(
      'After upgrade',
    );

    await user.keyboard('{ArrowLeft}'); // open branch: close it
    expect(item('After upgrade')).toHaveAttribute('aria-expanded', 'false');
    expect(screen.queryByRole('treeitem', { name: 'You are here' })).not.toBeInTheDocument();
    await user.keyboard('{ArrowLeft}'); // closed: go to the parent
    expect(item('Before upgrade')).toHaveFocus();
    await user.keyboard('{ArrowDown}{ArrowRight}'); // back down, open again
    expect(item('After upgrade')).toHaveAttribute('aria-expanded', 'true');
    await user.keyboard('{ArrowRight}'); // open: go to the first child
    expect(item('You are here')).toHaveFocus();

    await user.keyboard('{Home}');
    expect(item('Base install')).toHaveFocus();
    await user.keyboard('{End}');
    expect(item('Experiment')).toHaveFocus();
    await user.keyboard('{ArrowDown}'); // the last one: stays
    expect(item('Experiment')).toHaveFocus();
  });

  it('reverts after a confirmation that says what is lost', async () => {
    const { user, item, onRevert } = setup();
    await user.click(item('Base install'));
    await user.click(screen.getByRole('button', { name: 'Revert…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Revert to Base install?' });
    expect(dialog).toHaveAccessibleDescription(/current state is lost/);
    expect(within(dialog).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.click(within(dialog).getByRole('button', { name: 'Revert' }));
    expect(onRevert).toHaveBeenCalledExactlyOnceWith('a');
    expect(await screen.findByText('Reverted to Base install')).toBeInTheDocument();
  });

  it('reverts with Enter, and at once when preferences say not to ask', async () => {
    const { user, item, onRevert } = setup({ confirmRevert: false });
    item('Before upgrade').focus();
    await user.click(item('Before upgrade'));
    await user.keyboard('{Enter}');
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(onRevert).toHaveBeenCalledWith('b');
  });

  it('deletes after a confirmation that shows the space it frees, and Escape cancels', async () => {
    const { user, item, onDelete } = setup();
    await user.click(item('Experiment'));
    await user.keyboard('{Delete}');
    let dialog = screen.getByRole('alertdialog', { name: 'Delete snapshot Experiment?' });
    expect(dialog).toHaveAccessibleDescription(/frees about 1\.5 GiB/);
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(onDelete).not.toHaveBeenCalled();
    expect(item('Experiment')).toHaveFocus();

    await user.click(item('Before upgrade'));
    await user.click(screen.getByRole('button', { name: 'Delete…' }));
    dialog = screen.getByRole('alertdialog', { name: 'Delete snapshot Before upgrade?' });
    expect(dialog).not.toHaveAccessibleDescription(/frees about/);
    expect(dialog).toHaveAccessibleDescription(/merged into the snapshots after it/);
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(onDelete).toHaveBeenCalledExactlyOnceWith('b');
  });

  it('says how much space a deletion freed, and will not delete a snapshot clones are built on', async () => {
    const { user, item } = setup({
      nodes: nodes.map((node) => (node.id === 'a' ? { ...node, protectedBy: ['clone-1'] } : node)),
      onDelete: vi.fn(async () => ({ freedBytes: 512 * 1024 ** 2 })),
    });
    await user.click(item('Base install'));
    expect(screen.getByRole('button', { name: 'Delete…' })).toBeDisabled();
    expect(screen.getByText(/A linked clone is built on it/)).toBeInTheDocument();
    await user.keyboard('{Delete}');
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();

    await user.click(item('Experiment'));
    await user.click(screen.getByRole('button', { name: 'Delete…' }));
    await user.click(screen.getByRole('button', { name: 'Delete' }));
    expect(await screen.findByText('Freed 512 MiB.')).toBeInTheDocument();
  });

  it('takes a snapshot with a name and description, showing progress while it runs', async () => {
    let finish: () => void = () => {};
    const onTake = vi.fn(
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
    );
    const { user } = setup({ onTake });
    await user.click(screen.getByRole('button', { name: 'Take snapshot…' }));
    const dialog = screen.getByRole('dialog', { name: 'Take a snapshot' });
    const name = within(dialog).getByRole('textbox', { name: 'Name' });
    expect(name).toHaveValue('Snapshot 5');
    expect(name).toHaveFocus();
    await user.clear(name);
    expect(within(dialog).getByRole('button', { name: 'Take snapshot' })).toBeDisabled();
    expect(name).toHaveAccessibleDescription('Enter a name for the snapshot.');
    await user.type(name, 'Before kernel 6.12');
    await user.type(within(dialog).getByRole('textbox', { name: 'Description' }), 'Works');
    await user.type(name, '{Enter}');

    expect(onTake).toHaveBeenCalledWith({ name: 'Before kernel 6.12', description: 'Works' });
    expect(screen.getByRole('progressbar', { name: 'Taking snapshot…' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Take snapshot…' })).toBeDisabled();
    finish();
    expect(await screen.findByText('Took snapshot Before kernel 6.12')).toBeInTheDocument();
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
  });

  it('shows the progress the services report', () => {
    setup({ progress: { label: 'Merging layers…', fraction: 0.4 } });
    expect(screen.getByRole('progressbar', { name: 'Merging layers…' })).toHaveAttribute(
      'aria-valuenow',
      '40',
    );
  });

  it('renames with F2', async () => {
    const { user, item, onRename } = setup();
    await user.click(item('Base install'));
    await user.keyboard('{F2}');
    const name = within(screen.getByRole('dialog', { name: 'Rename Base install' })).getByRole(
      'textbox',
      { name: 'Name' },
    );
    await user.clear(name);
    await user.type(name, 'Clean install{Enter}');
    expect(onRename).toHaveBeenCalledWith('a', 'Clean install');
  });

  it('shows a failed operation in an error toast', async () => {
    const { user, item } = setup({
      onDelete: vi.fn(async () => {
        throw new Error('The disk layer is in use by a running VM');
      }),
    });
    await user.click(item('Experiment'));
    await user.click(screen.getByRole('button', { name: 'Delete…' }));
    await user.click(screen.getByRole('button', { name: 'Delete' }));
    const toasts = within(screen.getByRole('region', { name: 'Notifications' }));
    expect(await toasts.findByText('Deleting snapshot failed')).toBeInTheDocument();
    expect(toasts.getByText('The disk layer is in use by a running VM')).toBeInTheDocument();
  });
});
