import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { VmList } from '../../../client/contract.ts';
import type { CreateVmRequest } from '../../../../../electron/common/vm-details.ts';
import { servicesFromClient } from '../../../app/services.ts';
import { fakeClient, hostInfo, vmDetails } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import { LibraryHome } from './LibraryHome.tsx';

const demoGuest = { kernel: '/opt/nestbox/dist/demo/demo-guest.elf', kernelFormat: 'elf' as const };
const empty: VmList = { root: '/home/user/.local/share/nestbox/vms', vms: [], broken: [] };

/** The app's real services over a fake client: an empty library, `vms.create` and `vms.start`. */
function demoClient(guest: typeof demoGuest | null) {
  const client = fakeClient(async () => hostInfo({ demoGuest: guest }));
  const onVmsChanged: typeof client.onVmsChanged = (onList) => {
    queueMicrotask(() => onList(empty));
    return () => undefined;
  };
  const createVm = vi.fn(async (request: CreateVmRequest) =>
    vmDetails({ id: 'vm-demo', config: { id: 'vm-demo', name: request.name } }),
  );
  const startVm = vi.fn(async ({ id }: { id: string }) => ({ id, state: 'running' as const }));
  return { ...client, onVmsChanged, createVm, startVm };
}

afterEach(() => {
  window.location.hash = '';
});

describe('Try the demo VM', () => {
  it('creates the demo VM from the host’s demo kernel, starts it and opens its page', async () => {
    const user = userEvent.setup();
    const client = demoClient(demoGuest);
    renderWithProviders(<LibraryHome />, { library: servicesFromClient(client).library });

    await user.click(await screen.findByRole('button', { name: 'Try the demo VM' }));

    await vi.waitFor(() => expect(window.location.hash).toBe('#/vms/vm-demo'));
    expect(client.createVm).toHaveBeenCalledOnce();
    expect(client.createVm.mock.calls[0]?.[0]).toMatchObject({
      name: 'Demo',
      kernel: demoGuest.kernel,
      cpus: 1,
      memoryMiB: 128,
      network: { mode: 'none' },
      display: { width: 1024, height: 768 },
    });
    expect(client.createVm.mock.calls[0]?.[0]).not.toHaveProperty('disk');
    expect(client.startVm).toHaveBeenCalledWith({ id: 'vm-demo' });
  });

  it('is not offered when the host has no demo kernel', async () => {
    const client = demoClient(null);
    renderWithProviders(<LibraryHome />, { library: servicesFromClient(client).library });
    expect(await screen.findByText('No virtual machines yet')).toBeInTheDocument();
    await vi.waitFor(() => expect(client.hostInfo).toHaveBeenCalled());
    expect(screen.queryByRole('button', { name: 'Try the demo VM' })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Create a VM' })).toBeInTheDocument();
  });

  it('says why when the demo VM cannot be made, and stays on the library', async () => {
    const user = userEvent.setup();
    const client = demoClient(demoGuest);
    client.createVm.mockRejectedValueOnce(new Error('A VM named “Demo” already exists'));
    renderWithProviders(<LibraryHome />, { library: servicesFromClient(client).library });

    await user.click(await screen.findByRole('button', { name: 'Try the demo VM' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('A VM named “Demo” already exists');
    expect(client.startVm).not.toHaveBeenCalled();
    expect(window.location.hash).toBe('');
  });
});
