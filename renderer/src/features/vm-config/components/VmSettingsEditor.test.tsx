import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { NestboxClientError } from '../../../client/client-error.ts';
import type { VmDetails } from '../../../client/contract.ts';
import { hostInfo, vmDetails } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import { resourceLimits } from '../model/host-limits.ts';
import { VmSettingsEditor, VmSettingsScreen } from './VmSettingsEditor.tsx';

const limits = resourceLimits(hostInfo({ cpuCount: 8, memoryBytes: 16 * 1024 ** 3 }));

function setup({
  poweredOn = false,
  vm = vmDetails(),
}: { poweredOn?: boolean; vm?: VmDetails } = {}) {
  const user = userEvent.setup();
  const save = vi.fn(async () => vm);
  const onSaved = vi.fn();
  const onCancel = vi.fn();
  renderWithProviders(
    <VmSettingsEditor
      vm={vm}
      limits={limits}
      poweredOn={poweredOn}
      save={save}
      onSaved={onSaved}
      onCancel={onCancel}
    />,
  );
  const saveButton = () => screen.getByRole('button', { name: 'Save' });
  return { user, save, onSaved, onCancel, saveButton };
}

const POWER_OFF = 'Needs the VM powered off';

describe('VM settings editor', () => {
  it('shows the VM’s settings, with Save disabled until something changes', () => {
    const { saveButton } = setup();
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Settings of Alpine Linux');
    expect(screen.getByRole('textbox', { name: 'Name' })).toHaveValue('Alpine Linux');
    expect(screen.getByRole('textbox', { name: 'Kernel' })).toHaveValue('vmlinuz-virt');
    expect(screen.getByRole('textbox', { name: 'Processors' })).toHaveValue('2');
    expect(screen.getByRole('textbox', { name: 'Memory' })).toHaveValue('1024');
    expect(screen.getByRole('textbox', { name: 'Disk 1 (/dev/vda)' })).toHaveValue('disk.qcow2');
    expect(screen.getByRole('textbox', { name: 'Host port, rule 1' })).toHaveValue('2222');
    expect(screen.getByRole('combobox', { name: 'Resolution' })).toHaveValue('1024x768');
    expect(screen.queryByText(POWER_OFF)).not.toBeInTheDocument();
    expect(saveButton()).toBeDisabled();
  });

  it('saves only what changed', async () => {
    const { user, save, onSaved, saveButton } = setup();
    const name = screen.getByRole('textbox', { name: 'Name' });
    await user.clear(name);
    await user.type(name, 'Alpine edge');
    const cpus = screen.getByRole('textbox', { name: 'Processors' });
    await user.clear(cpus);
    await user.type(cpus, '4');
    await user.click(screen.getByRole('button', { name: 'Remove rule 1' }));
    await user.selectOptions(screen.getByRole('combobox', { name: 'Resolution' }), '1920x1080');
    await user.click(saveButton());

    expect(save).toHaveBeenCalledExactlyOnceWith({
      name: 'Alpine edge',
      hardware: {
        cpus: 4,
        network: { portForwards: [] },
        display: { width: 1920, height: 1080, vramMiB: 16 },
      },
    });
    expect(onSaved).toHaveBeenCalledOnce();
    expect(
      within(screen.getByRole('region', { name: 'Notifications' })).getByText(
        'Saved the settings of Alpine Linux',
      ),
    ).toBeInTheDocument();
  });

  it('sends boot settings whole, and the initrd only when there is one', async () => {
    const { user, save, saveButton } = setup();
    await user.clear(screen.getByRole('textbox', { name: 'Initial ramdisk (optional)' }));
    await user.click(saveButton());
    expect(save).toHaveBeenCalledWith({
      boot: { kind: 'kernel', kernel: 'vmlinuz-virt', cmdline: 'console=ttyS0 root=/dev/vda' },
    });
  });

  it('while the VM runs, marks and locks what needs it powered off, and still saves the rest', async () => {
    const { user, save, saveButton } = setup({ poweredOn: true });
    expect(screen.getByText(/Alpine Linux is running/)).toBeInTheDocument();

    for (const name of ['Kernel', 'Processors', 'Memory', 'Disk 1 (/dev/vda)']) {
      const field = screen.getByRole('textbox', { name });
      expect(field).toBeDisabled();
      expect(field).toHaveAccessibleDescription(expect.stringContaining(POWER_OFF));
    }
    expect(screen.getByRole('textbox', { name: 'Host port, rule 1' })).toBeDisabled();
    expect(screen.getByRole('radio', { name: /NAT/ })).toBeDisabled();
    expect(screen.getByRole('radio', { name: /Graphical display/ })).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Add disk image' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Add port forward' })).not.toBeInTheDocument();

    // Name, guest type and notes can change while it runs.
    const name = screen.getByRole('textbox', { name: 'Name' });
    expect(name).toBeEnabled();
    expect(name).not.toHaveAccessibleDescription(expect.stringContaining(POWER_OFF));
    await user.type(screen.getByRole('textbox', { name: 'Notes' }), ' Now with edge.');
    await user.click(screen.getByRole('radio', { name: /Other/ }));
    await user.click(saveButton());
    expect(save).toHaveBeenCalledWith({
      notes: 'Build box for the musl port. Now with edge.',
      guestOs: 'other',
    });
  });

  it('will not save a value the library would refuse', async () => {
    const { user, save, saveButton } = setup();
    const memory = screen.getByRole('textbox', { name: 'Memory' });
    await user.clear(memory);
    await user.type(memory, '20000');
    expect(memory).toHaveAccessibleDescription(/from 64 to 16,384 MiB/);
    expect(saveButton()).toBeDisabled();
    expect(screen.getByText('Fix the fields marked in red to save.')).toBeInTheDocument();
    await user.type(memory, '{Enter}');
    expect(save).not.toHaveBeenCalled();
  });

  it('shows a refused save in an alert and next to the field it names', async () => {
    const { user, save, onSaved, saveButton } = setup();
    save.mockRejectedValueOnce(
      new NestboxClientError('remote', 'Alpine Linux is running: power it off to change this', {
        code: 'vm-running',
        issues: [{ path: 'hardware.cpus', message: 'needs the VM powered off' }],
      }),
    );
    const cpus = screen.getByRole('textbox', { name: 'Processors' });
    await user.clear(cpus);
    await user.type(cpus, '3{Enter}');

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Couldn’t save the settings');
    expect(alert).toHaveTextContent('power it off to change this');
    expect(cpus).toHaveAccessibleDescription(/needs the VM powered off/);
    expect(onSaved).not.toHaveBeenCalled();
    expect(saveButton()).toBeEnabled();
  });

  it('asks before throwing changes away on Cancel or Escape', async () => {
    const { user, onCancel } = setup();
    await user.type(screen.getByRole('textbox', { name: 'Notes' }), '!');
    await user.keyboard('{Escape}');
    const dialog = screen.getByRole('alertdialog', { name: 'Discard your changes?' });
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(onCancel).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    await user.click(
      within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Discard' }),
    );
    expect(onCancel).toHaveBeenCalledOnce();
  });

  it('cancels at once when nothing changed', async () => {
    const { user, onCancel } = setup();
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onCancel).toHaveBeenCalledOnce();
  });

  it('loads the VM and this computer’s limits through its API', async () => {
    const api = {
      getVm: vi.fn(async () => vmDetails({ state: 'running' })),
      updateVm: vi.fn(),
      hostInfo: vi.fn(async () => hostInfo({ cpuCount: 2 })),
    };
    renderWithProviders(
      <VmSettingsScreen vmId="vm-1" api={api} onSaved={vi.fn()} onCancel={vi.fn()} />,
    );
    const cpus = await screen.findByRole('textbox', { name: 'Processors' });
    expect(api.getVm).toHaveBeenCalledWith('vm-1');
    expect(cpus).toBeDisabled(); // running, per vms.get
    expect(cpus).toHaveAccessibleDescription(/this computer has 2 logical CPUs/);
  });
});
