import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { VmList } from '../../../client/contract.ts';
import { NestboxClientError } from '../../../client/client-error.ts';
import { servicesFromClient } from '../../../app/services.ts';
import { fakeClient, vmDetails, vmList, vmSummary } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import type { LibraryApi } from '../api/library-api.ts';
import { LibraryHome } from './LibraryHome.tsx';
import { LibraryNav } from './LibraryNav.tsx';
import { checkVmFolderPath, normalizeFolderPath } from './OpenVmFolderDialog.tsx';

const web = vmSummary({ id: 'vm-web', name: 'Web server', folder: '/media/usb/VMs/Web server' });
const alpine = vmSummary({ id: 'vm-alpine', name: 'Alpine' });

/** The app's real library services over a fake client whose `vms.import` the test scripts. */
function libraryWith(list: VmList, importVm: (request: { folder: string }) => Promise<unknown>) {
  const client = fakeClient();
  const importMock = vi.fn(importVm);
  const library = servicesFromClient({
    ...client,
    listVms: vi.fn(async () => list),
    onVmsChanged: (onList) => {
      queueMicrotask(() => onList(list));
      return () => undefined;
    },
    importVm: importMock as typeof client.importVm,
  }).library;
  return { library, importVm: importMock };
}

function remoteError(message: string, code: string, issues?: { path: string; message: string }[]) {
  return new NestboxClientError('remote', message, { code, ...(issues ? { issues } : {}) });
}

function notifications() {
  return screen.getByRole('region', { name: 'Notifications' });
}

async function openDialog(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByRole('button', { name: 'Open VM folder…' }));
  return screen.getByRole('dialog', { name: 'Open a VM folder' });
}

afterEach(() => {
  window.location.hash = '';
});

describe('Open VM folder…', () => {
  it('adds the folder to the library, shows the VM and says so', async () => {
    const user = userEvent.setup();
    const { library, importVm } = libraryWith(vmList([alpine]), async ({ folder }) =>
      vmDetails({ id: 'vm-new', folder, imported: true, config: { id: 'vm-new', name: 'Web' } }),
    );
    renderWithProviders(<LibraryHome />, { library });

    const dialog = await openDialog(user);
    const field = within(dialog).getByRole('textbox', { name: 'VM folder' });
    expect(field).toHaveFocus();
    expect(field).toHaveAccessibleDescription(/holds the VM’s vm\.json/);
    // Keyboard only: type, Enter.
    await user.keyboard('  /media/usb/VMs//Web/  {Enter}');

    await waitFor(() => expect(window.location.hash).toBe('#/vms/vm-new'));
    expect(importVm).toHaveBeenCalledExactlyOnceWith({ folder: '/media/usb/VMs/Web' });
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(within(notifications()).getByText('Added Web to the library')).toBeInTheDocument();
    expect(within(notifications()).getByText('Its folder stays where it is.')).toBeInTheDocument();
  });

  it('says next to the field what is wrong with the path, and asks nothing', async () => {
    const user = userEvent.setup();
    const { library, importVm } = libraryWith(vmList([alpine]), async () => vmDetails());
    renderWithProviders(<LibraryHome />, { library });
    const dialog = await openDialog(user);
    const field = within(dialog).getByRole('textbox', { name: 'VM folder' });

    await user.click(within(dialog).getByRole('button', { name: 'Open' }));
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(field).toHaveAccessibleDescription(/Enter the path of the VM’s folder\./);

    await user.type(field, 'VMs/web');
    expect(field).toHaveAccessibleDescription(/Enter the full path, starting with \//);
    await user.clear(field);
    await user.type(field, '~/VMs/web{Enter}');
    expect(field).toHaveAccessibleDescription(/~ is not expanded here/);
    expect(importVm).not.toHaveBeenCalled();

    await user.clear(field);
    await user.type(field, '/home/you/VMs/web');
    expect(field).not.toHaveAttribute('aria-invalid');
  });

  it('shows the service’s refusal of the folder next to the field, and keeps the dialog open', async () => {
    const user = userEvent.setup();
    const message = '/home/you/Documents is not a Nestbox VM: it has no vm.json.';
    const { library } = libraryWith(vmList([alpine]), async () => {
      throw remoteError(message, 'bad-request', [{ path: 'folder', message }]);
    });
    renderWithProviders(<LibraryHome />, { library });
    const dialog = await openDialog(user);
    const field = within(dialog).getByRole('textbox', { name: 'VM folder' });
    await user.type(field, '/home/you/Documents{Enter}');

    await waitFor(() => expect(field).toHaveAccessibleDescription(/it has no vm\.json/));
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByRole('dialog')).toBeInTheDocument();
    expect(within(dialog).getByRole('button', { name: 'Open' })).not.toHaveAttribute('aria-busy');
    // Changing the path clears it.
    await user.type(field, '/VMs');
    expect(field).not.toHaveAttribute('aria-invalid');
  });

  it('shows each problem of a broken vm.json', async () => {
    const user = userEvent.setup();
    const message =
      '/backup/web/vm.json has 2 problems:\nhardware.cpus: must be at least 1, not 0\n' +
      'hardware.memoryMiB: must be a whole number, not "lots"\n' +
      'Fix its vm.json (or restore it from a backup), then open the folder again.';
    const { library } = libraryWith(vmList([alpine]), async () => {
      throw remoteError(message, 'broken-vm');
    });
    renderWithProviders(<LibraryHome />, { library });
    const dialog = await openDialog(user);
    await user.type(within(dialog).getByRole('textbox', { name: 'VM folder' }), '/backup/web');
    await user.click(within(dialog).getByRole('button', { name: 'Open' }));

    const alert = await within(dialog).findByRole('alert');
    expect(alert).toHaveTextContent('This VM’s vm.json is broken');
    expect(alert).toHaveTextContent(/hardware\.cpus: must be at least 1, not 0/);
    expect(alert).toHaveTextContent(/hardware\.memoryMiB: must be a whole number/);
    expect(window.location.hash).toBe('');
  });

  it('a folder in the library already: shows that VM instead', async () => {
    const user = userEvent.setup();
    const { library } = libraryWith(vmList([alpine, web]), async ({ folder }) => {
      throw remoteError(`"Web server" ${folder} is already in the library.`, 'already-in-library');
    });
    renderWithProviders(<LibraryHome />, { library });
    const dialog = await openDialog(user);
    await user.type(
      within(dialog).getByRole('textbox', { name: 'VM folder' }),
      '/media/usb/VMs/Web server/{Enter}',
    );

    await waitFor(() => expect(window.location.hash).toBe('#/vms/vm-web'));
    expect(
      within(notifications()).getByText('Web server is in the library already'),
    ).toBeInTheDocument();
  });

  it('in the library under another path (a link): says so in the dialog', async () => {
    const user = userEvent.setup();
    const message = '"Web server" /home/you/web-link is already in the library.';
    const { library } = libraryWith(vmList([alpine, web]), async () => {
      throw remoteError(message, 'already-in-library');
    });
    renderWithProviders(<LibraryHome />, { library });
    const dialog = await openDialog(user);
    await user.type(
      within(dialog).getByRole('textbox', { name: 'VM folder' }),
      '/home/you/web-link{Enter}',
    );
    const alert = await within(dialog).findByRole('alert');
    expect(alert).toHaveTextContent('This VM is in the library already');
    expect(alert).toHaveTextContent(message);
  });

  it('Escape and Cancel close it without asking anything; focus goes back to the button', async () => {
    const user = userEvent.setup();
    const { library, importVm } = libraryWith(vmList([alpine]), async () => vmDetails());
    renderWithProviders(<LibraryHome />, { library });
    await openDialog(user);
    await user.keyboard('/somewhere{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Open VM folder…' })).toHaveFocus();

    await user.keyboard('{Enter}');
    const dialog = screen.getByRole('dialog', { name: 'Open a VM folder' });
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(importVm).not.toHaveBeenCalled();
  });

  it('is offered by the empty library and the sidebar too, and not without vms.import', async () => {
    const user = userEvent.setup();
    const { library } = libraryWith(vmList(), async () => vmDetails());
    const { unmount } = renderWithProviders(
      <>
        <LibraryNav currentPath="/" />
        <LibraryHome />
      </>,
      { library },
    );
    expect(await screen.findByText('No virtual machines yet')).toBeInTheDocument();
    const buttons = screen.getAllByRole('button', { name: 'Open VM folder…' });
    expect(buttons).toHaveLength(2);
    // The sidebar's is a small icon button beside "New virtual machine".
    const sidebar = screen.getByRole('region', { name: 'Virtual machines' });
    await user.click(within(sidebar).getByRole('button', { name: 'Open VM folder…' }));
    expect(screen.getByRole('dialog', { name: 'Open a VM folder' })).toBeInTheDocument();
    unmount();

    const { importVm: _unused, ...withoutImport } = library;
    const noImport: LibraryApi = withoutImport;
    renderWithProviders(<LibraryHome />, { library: noImport });
    expect(await screen.findByText('No virtual machines yet')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Open VM folder…' })).not.toBeInTheDocument();
  });
});

describe('the folder path', () => {
  it('is checked before the services are asked', () => {
    expect(checkVmFolderPath('')).toMatch(/Enter the path/);
    expect(checkVmFolderPath('   ')).toMatch(/Enter the path/);
    expect(checkVmFolderPath('VMs/web')).toMatch(/starting with \//);
    expect(checkVmFolderPath('~/VMs')).toMatch(/~ is not expanded/);
    expect(checkVmFolderPath('/a\tb')).toMatch(/without tabs/);
    expect(checkVmFolderPath(' /media/usb/VMs/Web server ')).toBeNull();
  });

  it('is sent as the library lists folders', () => {
    expect(normalizeFolderPath('/media//usb/VMs/./Web/')).toBe('/media/usb/VMs/Web');
    expect(normalizeFolderPath(' /a/b/../c ')).toBe('/a/c');
    expect(normalizeFolderPath('/')).toBe('/');
  });
});
