import { screen, waitFor, within } from '@testing-library/react';
import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  appSettings,
  fakeClient,
  fakeServices,
  fakeSnapshotsApi,
  vmDetails,
  vmList,
  vmSummary,
  wireSnapshot,
} from '../test/fakes.ts';
import { App } from './App.tsx';
import type { AppServices } from './services.ts';

function renderApp(services: AppServices = fakeServices()) {
  const client = fakeClient();
  render(<App client={client} services={services} libraryPollMs={0} />);
  return { client, services };
}

describe('App shell', () => {
  beforeEach(() => {
    window.location.hash = '';
    delete document.documentElement.dataset.theme;
  });

  it('opens on the library, with a header, the navigation and the main area', async () => {
    renderApp();
    expect(within(screen.getByRole('banner')).getByText('Nestbox')).toBeInTheDocument();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    const library = within(nav).getByRole('link', { name: 'Library' });
    expect(library).toHaveAttribute('aria-current', 'page');
    expect(
      within(screen.getByRole('main')).getByRole('heading', { level: 1, name: 'Library' }),
    ).toBeInTheDocument();
    expect(await screen.findByText('No virtual machines yet')).toBeInTheDocument();
  });

  it('offers only screens that exist, and no dead buttons', async () => {
    const { preferences: _preferences, ...withoutPreferences } = fakeServices();
    renderApp(withoutPreferences);
    await screen.findByText('No virtual machines yet');
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(
      within(nav)
        .getAllByRole('link')
        .map((link) => link.textContent),
    ).toEqual(['Library', 'New virtual machine', 'This computer']);
    // An empty library has nothing to filter or switch on: every action is a link.
    expect(screen.queryAllByRole('button')).toEqual([]);
  });

  it('keeps "This computer" one link away', async () => {
    const user = userEvent.setup();
    renderApp();
    await user.click(screen.getByRole('link', { name: 'This computer' }));
    expect(
      await screen.findByRole('heading', { level: 1, name: 'This computer' }),
    ).toBeInTheDocument();
    expect(await screen.findByTestId('kvm-status')).toHaveTextContent('Ready');
  });

  it('lets keyboard users skip straight to the content', async () => {
    const user = userEvent.setup();
    renderApp();
    await screen.findByText('No virtual machines yet');
    await user.tab();
    const skip = screen.getByRole('link', { name: 'Skip to content' });
    expect(skip).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(screen.getByRole('main')).toHaveFocus();
  });

  it('says when the page is a nestbox serve browser session', async () => {
    const client = { ...fakeClient(), transport: 'http' as const };
    render(<App client={client} services={fakeServices()} libraryPollMs={0} />);
    expect(screen.getByRole('banner')).toHaveTextContent('Browser session via nestbox serve');
    await screen.findByText('No virtual machines yet');
  });

  it('opens a VM from the sidebar and puts focus on its name', async () => {
    const user = userEvent.setup();
    renderApp(fakeServices(vmList([vmSummary({ id: 'vm-1', name: 'Alpine', state: 'running' })])));
    const nav = screen.getByRole('navigation', { name: 'Main' });
    await user.click(await within(nav).findByRole('link', { name: /Alpine/ }));
    const heading = await screen.findByRole('heading', { level: 1, name: 'Alpine' });
    expect(window.location.hash).toBe('#/vms/vm-1');
    await waitFor(() => expect(heading).toHaveFocus());
    expect(within(nav).getByRole('link', { name: /Alpine/ })).toHaveAttribute(
      'aria-current',
      'page',
    );
  });

  it('creates a VM with the wizard and shows it', async () => {
    const user = userEvent.setup();
    const services = fakeServices();
    renderApp(services);
    await user.click(await screen.findByRole('link', { name: 'Create a VM' }));
    await user.type(await screen.findByRole('textbox', { name: 'Name' }), 'Alpine{Enter}');
    await user.type(screen.getByRole('textbox', { name: 'Kernel' }), '/boot/vmlinuz{Enter}');
    for (let i = 0; i < 4; i++) await user.click(screen.getByRole('button', { name: 'Next' }));
    await user.click(screen.getByRole('button', { name: 'Create VM' }));
    expect(services.newVm.createVm).toHaveBeenCalledOnce();
    expect(await screen.findByText('Created Alpine')).toBeInTheDocument();
    await waitFor(() => expect(window.location.hash).toMatch(/^#\/vms\//));
  });

  it('follows the theme chosen in preferences', async () => {
    const user = userEvent.setup();
    const services = fakeServices();
    services.preferences.getSettings.mockResolvedValue({
      settings: appSettings({ theme: 'dark' }),
    });
    renderApp(services);
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe('dark'));

    services.preferences.updateSettings.mockResolvedValue(appSettings({ theme: 'system' }));
    await user.click(screen.getByRole('link', { name: 'Preferences' }));
    await user.click(await screen.findByRole('radio', { name: 'Follow the system' }));
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(document.documentElement.dataset.theme).toBeUndefined());
  });

  it('links the summary’s recent snapshots to the snapshot manager, and clones from a snapshot', async () => {
    const user = userEvent.setup();
    window.location.hash = '#/vms/vm-1';
    const clone = {
      cloneVm: vi.fn(async (_id: string, options: { name: string }) =>
        vmDetails({ id: 'vm-2', config: { id: 'vm-2', name: options.name } }),
      ),
    };
    renderApp({
      ...fakeServices(vmList([vmSummary({ id: 'vm-1', name: 'Alpine Linux', state: 'off' })])),
      snapshots: fakeSnapshotsApi([wireSnapshot({ id: 's1', name: 'Clean install' })], 's1'),
      clone,
    });

    const recent = await screen.findByRole('region', { name: 'Recent snapshots' });
    expect(await within(recent).findByText('Clean install')).toBeInTheDocument();
    await user.click(within(recent).getByRole('link', { name: 'Manage snapshots' }));
    expect(window.location.hash).toBe('#/vms/vm-1/snapshots');
    await screen.findByRole('heading', { level: 1, name: 'Snapshots of Alpine Linux' });

    await user.click(await screen.findByRole('treeitem', { name: /^Clean install/ }));
    await user.click(screen.getByRole('button', { name: 'Clone…' }));
    const dialog = screen.getByRole('dialog', { name: 'Clone Alpine Linux from Clean install' });
    await user.click(within(dialog).getByRole('button', { name: 'Clone' }));
    expect(clone.cloneVm).toHaveBeenCalledWith('vm-1', {
      name: 'Alpine Linux copy',
      snapshot: 's1',
    });
    expect(await screen.findByText('Created Alpine Linux copy')).toBeInTheDocument();
    await waitFor(() => expect(window.location.hash).toBe('#/vms/vm-2'));
  });
});
