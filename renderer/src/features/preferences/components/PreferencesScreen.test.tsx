import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { NestboxClientError } from '../../../client/client-error.ts';
import { appSettings, fakeServices } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import { PreferencesScreen } from './PreferencesScreen.tsx';

function setup() {
  const user = userEvent.setup();
  const api = fakeServices().preferences;
  const onSaved = vi.fn();
  renderWithProviders(<PreferencesScreen api={api} onSaved={onSaved} />);
  const save = () => screen.getByRole('button', { name: 'Save' });
  return { user, api, onSaved, save };
}

describe('Preferences', () => {
  it('shows the settings in force, with nothing to save yet', async () => {
    const { save } = setup();
    expect(await screen.findByRole('radio', { name: /Default location/ })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Follow the system' })).toBeChecked();
    expect(screen.getByRole('radio', { name: /Keep them running/ })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: 'Ask before deleting a VM' })).toBeChecked();
    expect(screen.getByRole('group', { name: 'Release the keyboard from a VM' })).toHaveTextContent(
      'Ctrl+Alt',
    );
    expect(save()).toBeDisabled();
  });

  it('saves only what changed', async () => {
    const { user, api, onSaved, save } = setup();
    await user.click(await screen.findByRole('radio', { name: 'Dark' }));
    await user.click(screen.getByRole('radio', { name: /Power them off/ }));
    await user.click(screen.getByRole('checkbox', { name: 'Ask before reverting to a snapshot' }));
    await user.click(save());
    expect(api.updateSettings).toHaveBeenCalledExactlyOnceWith({
      theme: 'dark',
      onQuitWithRunningVms: 'power-off',
      confirmations: { revertSnapshot: false },
    });
    expect(onSaved).toHaveBeenCalledWith(expect.objectContaining({ theme: 'dark' }));
    expect(await screen.findByText('Preferences saved')).toBeInTheDocument();
  });

  it('checks the VM folder before saving it', async () => {
    const { user, api, save } = setup();
    await user.click(await screen.findByRole('radio', { name: 'Another folder' }));
    const folder = screen.getByRole('textbox', { name: 'Folder' });
    await user.type(folder, 'vms');
    expect(folder).toHaveAccessibleDescription(/Use the full path, starting with \//);
    expect(save()).toBeDisabled();
    await user.clear(folder);
    await user.type(folder, '/srv/vms{Enter}');
    expect(api.updateSettings).toHaveBeenCalledWith({ vmFolder: '/srv/vms' });
  });

  it('records a new release shortcut by pressing it', async () => {
    const { user, api, save } = setup();
    const group = within(
      await screen.findByRole('group', { name: 'Release the keyboard from a VM' }),
    );
    await user.click(group.getByRole('button', { name: 'Change…' }));
    expect(group.getByRole('button', { name: 'Press the new shortcut…' })).toHaveAttribute(
      'aria-pressed',
      'true',
    );
    await user.keyboard('{Control>}{Shift>}g{/Shift}{/Control}');
    expect(group.getByText('Ctrl+Shift+G')).toBeInTheDocument();
    await user.click(save());
    expect(api.updateSettings).toHaveBeenCalledWith({
      hotkeys: { releaseKeyboard: 'Ctrl+Shift+KeyG' },
    });
  });

  it('reverts with Escape', async () => {
    const { user, save } = setup();
    await user.click(await screen.findByRole('radio', { name: 'Light' }));
    expect(save()).toBeEnabled();
    await user.keyboard('{Escape}');
    expect(screen.getByRole('radio', { name: 'Follow the system' })).toBeChecked();
    expect(save()).toBeDisabled();
  });

  it('shows a refused change and what the settings file had wrong', async () => {
    const user = userEvent.setup();
    const api = fakeServices().preferences;
    api.getSettings.mockResolvedValue({
      settings: appSettings(),
      problem: {
        message: 'settings.json had 1 problem; that field was reset',
        issues: [{ path: 'theme', message: 'must be "system", "light" or "dark"' }],
        keptAs: '/home/user/.config/nestbox/settings.json.broken-1',
      },
    });
    api.updateSettings.mockRejectedValueOnce(
      new NestboxClientError('remote', 'The settings were not changed', {
        issues: [{ path: 'vmFolder', message: 'is not writable' }],
      }),
    );
    renderWithProviders(<PreferencesScreen api={api} />);
    expect(await screen.findByText('Some preferences were reset')).toBeInTheDocument();
    expect(
      screen.getByText('/home/user/.config/nestbox/settings.json.broken-1'),
    ).toBeInTheDocument();

    await user.click(screen.getByRole('radio', { name: 'Another folder' }));
    await user.type(screen.getByRole('textbox', { name: 'Folder' }), '/readonly{Enter}');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Couldn’t save the preferences');
    expect(alert).toHaveTextContent('vmFolder: is not writable');
  });
});
