import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { NestboxClientError } from '../../../client/client-error.ts';
import { vmDetails } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import type { CloneOptions } from '../api/clone-api.ts';
import { CloneVmButton } from './CloneVmButton.tsx';
import { CloneVmDialog } from './CloneVmDialog.tsx';

function setup(snapshot?: { id: string; name: string }) {
  const user = userEvent.setup();
  const api = {
    cloneVm: vi.fn(async (_id: string, options: CloneOptions) =>
      vmDetails({ id: 'new-vm', config: { name: options.name } }),
    ),
  };
  const onCloned = vi.fn();
  const onCancel = vi.fn();
  renderWithProviders(
    <CloneVmDialog
      api={api}
      source={{ id: 'vm-1', name: 'Alpine' }}
      snapshot={snapshot}
      onCloned={onCloned}
      onCancel={onCancel}
    />,
  );
  const dialog = screen.getByRole('dialog');
  const name = within(dialog).getByRole('textbox', { name: 'Name of the new VM' });
  const submit = within(dialog).getByRole('button', { name: 'Clone' });
  return { user, api, onCloned, onCancel, dialog, name, submit };
}

describe('Clone dialog', () => {
  it('checks the name before anything is asked of the services', async () => {
    const { user, api, name, submit } = setup();
    expect(name).toHaveValue('Alpine copy');
    expect(submit).toBeEnabled();

    await user.clear(name);
    expect(name).toHaveAccessibleDescription(/Enter a name for the new VM\./);
    expect(name).toBeInvalid();
    expect(submit).toBeDisabled();
    await user.keyboard('{Enter}');

    await user.type(name, 'x'.repeat(129));
    expect(name).toHaveAccessibleDescription(/Use at most 128 characters \(this is 129\)\./);
    expect(submit).toBeDisabled();
    expect(api.cloneVm).not.toHaveBeenCalled();
  });

  it('makes a full copy of the VM as it is, and offers no linked clone without a snapshot', async () => {
    const { user, api, onCloned, dialog, name } = setup();
    expect(within(dialog).queryByRole('radio')).not.toBeInTheDocument();
    expect(dialog).toHaveTextContent(
      'For a linked clone, which shares the disks, clone from a snapshot',
    );

    await user.clear(name);
    await user.type(name, '  Build box  {Enter}');
    expect(api.cloneVm).toHaveBeenCalledExactlyOnceWith('vm-1', { name: 'Build box' });
    expect(onCloned).toHaveBeenCalledWith(expect.objectContaining({ id: 'new-vm' }));
  });

  it('clones a snapshot, full or linked', async () => {
    const { user, api, dialog, submit } = setup({ id: 'snap-1', name: 'Clean install' });
    expect(dialog).toHaveAccessibleName('Clone Alpine from Clean install');
    expect(within(dialog).getByRole('radio', { name: /Full clone/ })).toBeChecked();

    await user.click(within(dialog).getByRole('radio', { name: /Linked clone/ }));
    await user.click(submit);
    expect(api.cloneVm).toHaveBeenCalledExactlyOnceWith('vm-1', {
      name: 'Alpine copy',
      snapshot: 'snap-1',
      linked: true,
    });
  });

  it('shows what the services refused, on the field it is about', async () => {
    const { user, api, onCloned, dialog, name, submit } = setup();
    api.cloneVm.mockRejectedValueOnce(
      new NestboxClientError(
        'remote',
        'The request is not valid: name: a VM with this name exists',
        {
          code: 'bad-request',
          issues: [{ path: 'name', message: 'A VM named “Alpine copy” exists already.' }],
        },
      ),
    );
    await user.click(submit);

    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'The request is not valid: name: a VM with this name exists',
    );
    expect(name).toHaveAccessibleDescription(/A VM named “Alpine copy” exists already\./);
    expect(onCloned).not.toHaveBeenCalled();

    // Changing the name clears the service's complaint about it.
    await user.type(name, ' 2');
    expect(name).not.toHaveAccessibleDescription(/exists already/);
  });

  it('is offered on the VM page only while the VM is off', async () => {
    const user = userEvent.setup();
    const api = { cloneVm: vi.fn() };
    const { rerender } = renderWithProviders(
      <CloneVmButton
        api={api}
        source={{ id: 'vm-1', name: 'Alpine' }}
        poweredOn
        onCloned={vi.fn()}
      />,
    );
    expect(screen.getByRole('button', { name: 'Clone…' })).toBeDisabled();
    rerender(
      <CloneVmButton
        api={api}
        source={{ id: 'vm-1', name: 'Alpine' }}
        poweredOn={false}
        onCloned={vi.fn()}
      />,
    );
    await user.click(screen.getByRole('button', { name: 'Clone…' }));
    expect(screen.getByRole('dialog', { name: 'Clone Alpine' })).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });
});
