import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { VmList } from '../../../client/contract.ts';
import { fakeServices, vmDetails, vmList, vmSummary } from '../../../test/fakes.ts';
import { renderWithProviders, testLinks } from '../../../test/render.tsx';
import { ToastProvider } from '../../../components/toast/ToastProvider.tsx';
import { LibraryProvider } from '../hooks/library-context.tsx';
import type { LibraryApi } from '../api/library-api.ts';
import { LibraryHome } from './LibraryHome.tsx';
import { LibraryNav } from './LibraryNav.tsx';
import { VmSummaryPage } from './VmSummaryPage.tsx';
import { BrokenVmPage } from './BrokenVmPage.tsx';

const crashedAt = { at: '2025-02-01T10:00:00Z', pid: 4242 };
const library = vmList(
  [
    vmSummary({ id: 'vm-web', name: 'Web server', state: 'running', pid: 10 }),
    vmSummary({ id: 'vm-alpine', name: 'Alpine', state: 'off' }),
    vmSummary({ id: 'vm-db', name: 'Database', state: 'paused', pid: 11 }),
    vmSummary({
      id: 'vm-build',
      name: 'Build box',
      state: 'crashed',
      detail: 'The VM host died (signal SIGSEGV)',
    }),
    vmSummary({
      id: 'vm-failed',
      name: 'Failing',
      state: 'off',
      lastExit: {
        state: 'start-failed',
        reason: 'start failed',
        error: { message: '/dev/kvm: permission denied' },
        ...crashedAt,
      },
    }),
    vmSummary({ id: 'vm-stuck', name: 'Stuck', state: 'unresponsive', pid: 12 }),
  ],
  [
    {
      folder: '/home/user/.local/share/nestbox/vms/Old copy',
      code: 'invalid-json',
      message: 'vm.json line 3, column 5: unexpected token',
    },
  ],
);

function navItems() {
  const list = screen.getByRole('list', { name: 'Virtual machines' });
  return within(list)
    .getAllByRole('link')
    .map((link) => link.textContent);
}

describe('Library sidebar', () => {
  it('lists every VM and broken folder by name, each with its state in words', async () => {
    renderWithProviders(<LibraryNav currentPath="/vms/vm-db" />, {
      library: fakeServices(library).library,
    });
    await screen.findByRole('link', { name: /Web server/ });
    expect(navItems()).toEqual([
      'AlpineOff',
      'Build boxCrashed',
      'DatabasePaused',
      'FailingFailed to start',
      'Old copyBroken folder',
      'StuckNot responding',
      'Web serverRunning',
    ]);
    expect(screen.getByRole('link', { name: /Database/ })).toHaveAttribute('aria-current', 'page');
    expect(screen.getByRole('link', { name: /Web server/ })).toHaveAttribute(
      'href',
      '#/vms/vm-web',
    );
  });

  it('filters by name and by state', async () => {
    const user = userEvent.setup();
    renderWithProviders(<LibraryNav currentPath="/" />, {
      library: fakeServices(library).library,
    });
    const search = await screen.findByRole('searchbox', { name: 'Search virtual machines' });
    await user.type(search, 'b');
    expect(navItems()).toEqual(['Build boxCrashed', 'DatabasePaused', 'Web serverRunning']);
    await user.clear(search);

    const show = within(screen.getByRole('group', { name: 'Show' }));
    await user.click(show.getByRole('button', { name: 'Problems' }));
    expect(show.getByRole('button', { name: 'Problems' })).toHaveAttribute('aria-pressed', 'true');
    expect(navItems()).toEqual([
      'Build boxCrashed',
      'FailingFailed to start',
      'Old copyBroken folder',
      'StuckNot responding',
    ]);
    await user.click(show.getByRole('button', { name: 'Running' }));
    expect(navItems()).toEqual(['DatabasePaused', 'StuckNot responding', 'Web serverRunning']);
    await user.type(search, 'zzz');
    expect(screen.getByText('No virtual machine matches.')).toBeInTheDocument();
  });

  it('keeps badges live as the services report changes', async () => {
    let push: (list: VmList) => void = () => {};
    const api: LibraryApi = {
      listVms: vi.fn(),
      watchVms: (onList) => {
        push = onList;
        return () => {};
      },
    };
    renderWithProviders(<LibraryNav currentPath="/" />, { library: api });
    act(() => push(vmList([vmSummary({ id: 'a', name: 'Alpine', state: 'off' })])));
    expect(navItems()).toEqual(['AlpineOff']);
    act(() => push(vmList([vmSummary({ id: 'a', name: 'Alpine', state: 'running' })])));
    expect(navItems()).toEqual(['AlpineRunning']);
    expect(api.listVms).not.toHaveBeenCalled();
  });
});

describe('Library updates', () => {
  it('subscribes again after the change stream ends, keeping the last list on show', async () => {
    const pushes: ((list: VmList) => void)[] = [];
    const failures: ((error: Error) => void)[] = [];
    const api: LibraryApi = {
      listVms: vi.fn(),
      watchVms: (onList, onError) => {
        pushes.push(onList);
        failures.push(onError);
        return () => {};
      },
    };
    render(
      <ToastProvider>
        <LibraryProvider api={api} links={testLinks} retryMs={5}>
          <LibraryNav currentPath="/" />
        </LibraryProvider>
      </ToastProvider>,
    );
    act(() => pushes[0]?.(vmList([vmSummary({ id: 'a', name: 'Alpine' })])));
    act(() => failures[0]?.(new Error('connection lost')));
    expect(navItems()).toEqual(['AlpineOff']);
    await waitFor(() => expect(pushes).toHaveLength(2));
    act(() => pushes[1]?.(vmList([vmSummary({ id: 'a', name: 'Alpine', state: 'running' })])));
    expect(navItems()).toEqual(['AlpineRunning']);
  });
});

describe('Library home', () => {
  it('explains what to do when there are no VMs, with a way to make one', async () => {
    renderWithProviders(<LibraryHome />, { library: fakeServices(vmList()).library });
    expect(await screen.findByRole('heading', { name: 'No virtual machines yet' })).toBeVisible();
    expect(screen.getByText(/you need a Linux kernel to boot/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Create a VM' })).toHaveAttribute('href', '#/new-vm');
    // No demo to offer: no button that would do nothing.
    expect(screen.queryByRole('button', { name: /demo/ })).not.toBeInTheDocument();
  });

  it('offers the demo VM when the app has one', async () => {
    const user = userEvent.setup();
    const onTryDemo = vi.fn(async () => {});
    renderWithProviders(<LibraryHome onTryDemo={onTryDemo} />, {
      library: fakeServices(vmList()).library,
    });
    await user.click(await screen.findByRole('button', { name: 'Try the demo VM' }));
    expect(onTryDemo).toHaveBeenCalledOnce();
  });

  it('shows a card per VM, and the library folder', async () => {
    renderWithProviders(<LibraryHome />, { library: fakeServices(library).library });
    const cards = await screen.findByRole('list', { name: 'Virtual machines' });
    expect(within(cards).getAllByRole('link')).toHaveLength(7);
    expect(screen.getByText('/home/user/.local/share/nestbox/vms')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'New VM' })).toHaveAttribute('href', '#/new-vm');
  });

  it('says when the library cannot be read, and retries', async () => {
    const user = userEvent.setup();
    const api = fakeServices(vmList()).library;
    api.listVms.mockRejectedValueOnce(new Error('Permission denied: /srv/vms'));
    renderWithProviders(<LibraryHome />, { library: api });
    expect(await screen.findByRole('alert')).toHaveTextContent('Permission denied: /srv/vms');
    await user.click(screen.getByRole('button', { name: 'Retry' }));
    expect(await screen.findByText('No virtual machines yet')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });
});

function renderVm(id: string, list = library) {
  const services = fakeServices(list);
  const summary = list.vms.find((vm) => vm.id === id);
  services.library.getVm.mockResolvedValue(
    vmDetails({ id, config: { id, name: summary?.name ?? 'VM' } }),
  );
  const view = renderWithProviders(<VmSummaryPage vmId={id} />, { library: services.library });
  return { ...view, services, user: userEvent.setup() };
}

function powerButtons() {
  const toolbar = screen.getByRole('toolbar', { name: 'Power' });
  return Object.fromEntries(
    within(toolbar)
      .getAllByRole('button')
      .map((button) => [button.textContent, !(button as HTMLButtonElement).disabled]),
  );
}

describe('VM summary', () => {
  it('shows the hardware, the notes and a placeholder for the screen of a VM that is off', async () => {
    renderVm('vm-alpine');
    expect(await screen.findByRole('heading', { level: 1, name: 'Alpine' })).toBeInTheDocument();
    const hardware = within(await screen.findByRole('region', { name: 'Hardware' }));
    expect(hardware.getByText('2 CPUs')).toBeInTheDocument();
    expect(hardware.getByText('1 GiB')).toBeInTheDocument();
    expect(hardware.getByText('TCP 127.0.0.1:2222 → guest 22')).toBeInTheDocument();
    expect(hardware.getByText('1024 × 768, 16 MiB video memory')).toBeInTheDocument();
    expect(hardware.getByText('vmlinuz-virt')).toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Notes' })).toHaveTextContent(
      'Build box for the musl port.',
    );
    expect(screen.getByText('Powered off')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Settings' })).toHaveAttribute(
      'href',
      '#/vms/vm-alpine/settings',
    );
  });

  it.each([
    [
      'vm-alpine',
      {
        Start: true,
        Pause: false,
        'Shut down': false,
        'Power off': false,
        Reset: false,
      },
    ],
    [
      'vm-web',
      {
        Start: false,
        Pause: true,
        'Shut down': true,
        'Power off': true,
        Reset: true,
      },
    ],
    [
      'vm-db',
      {
        Resume: true,
        Pause: false,
        'Shut down': false,
        'Power off': true,
        Reset: true,
      },
    ],
    [
      'vm-build',
      {
        Start: true,
        Pause: false,
        'Shut down': false,
        'Power off': false,
        Reset: false,
      },
    ],
    [
      'vm-stuck',
      {
        Start: false,
        Pause: false,
        'Shut down': false,
        'Power off': true,
        Reset: false,
      },
    ],
  ])('enables only the power buttons that do something for %s', async (id, expected) => {
    renderVm(id);
    await screen.findByRole('toolbar', { name: 'Power' });
    expect(powerButtons()).toEqual(expected);
  });

  it('starts the VM and says so', async () => {
    const { services, user } = renderVm('vm-alpine');
    await user.click(await screen.findByRole('button', { name: 'Start' }));
    expect(services.library.power.start).toHaveBeenCalledWith('vm-alpine');
    expect(await screen.findByText('Alpine is running')).toBeInTheDocument();
  });

  it('reports a power action that failed in an error toast', async () => {
    const { services, user } = renderVm('vm-web');
    services.library.power.pause.mockRejectedValueOnce(new Error('The VM host did not answer'));
    await user.click(await screen.findByRole('button', { name: 'Pause' }));
    const toasts = within(screen.getByRole('region', { name: 'Notifications' }));
    expect(await toasts.findByText('Couldn’t pause Web server')).toBeInTheDocument();
    expect(toasts.getByText('The VM host did not answer')).toBeInTheDocument();
  });

  it('explains a crash and a failed start', async () => {
    renderVm('vm-build');
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The VM stopped unexpectedly' + 'The VM host died (signal SIGSEGV)',
    );
  });

  it('shows a failed start with the reason', async () => {
    renderVm('vm-failed');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The VM failed the last time it started');
    expect(alert).toHaveTextContent('/dev/kvm: permission denied');
  });

  it('deletes a VM that is off, after asking', async () => {
    const { services, user } = renderVm('vm-alpine');
    await user.click(await screen.findByRole('button', { name: 'Delete VM…' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Delete Alpine?' });
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(services.library.deleteVm).toHaveBeenCalledWith({ id: 'vm-alpine' });
    expect(await screen.findByText('Deleted Alpine')).toBeInTheDocument();
  });

  it('offers no delete while the VM runs', async () => {
    renderVm('vm-web');
    await screen.findByRole('toolbar', { name: 'Power' });
    expect(screen.queryByRole('button', { name: /Delete/ })).not.toBeInTheDocument();
  });

  it('says when the VM is not in the library', async () => {
    renderVm('nope');
    expect(
      await screen.findByRole('heading', { name: 'This VM is not in the library' }),
    ).toBeInTheDocument();
  });
});

describe('Broken folder', () => {
  it('shows the problem and how to fix it', async () => {
    renderWithProviders(<BrokenVmPage folder="/home/user/.local/share/nestbox/vms/Old copy" />, {
      library: fakeServices(library).library,
    });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('vm.json line 3, column 5: unexpected token');
    expect(alert).toHaveTextContent('Fix the JSON at the place named above');
    expect(screen.getByRole('button', { name: 'Delete folder…' })).toBeInTheDocument();
  });
});
