import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { NestboxClientError } from '../../../client/client-error.ts';
import { fakeServices, hostInfo } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import { NewVmWizard } from './NewVmWizard.tsx';

function setup(options: { cpuCount?: number; memoryGiB?: number } = {}) {
  const user = userEvent.setup();
  const api = fakeServices().newVm;
  api.hostInfo.mockResolvedValue(
    hostInfo({
      cpuCount: options.cpuCount ?? 4,
      memoryBytes: (options.memoryGiB ?? 8) * 1024 ** 3,
    }),
  );
  const onCreated = vi.fn();
  const onCancel = vi.fn();
  renderWithProviders(<NewVmWizard api={api} onCreated={onCreated} onCancel={onCancel} />);
  const next = () => screen.getByRole('button', { name: 'Next' });
  const stepTitle = () => screen.getByRole('heading', { level: 2 });
  return { user, api, onCreated, onCancel, next, stepTitle };
}

/** Fills the first two steps with good values and stops on step 3. */
async function throughBoot(ctx: ReturnType<typeof setup>) {
  const { user, next } = ctx;
  await user.type(await screen.findByRole('textbox', { name: 'Name' }), 'Alpine');
  await user.click(next());
  await user.type(screen.getByRole('textbox', { name: 'Kernel' }), '/images/vmlinuz');
  await user.click(next());
}

describe('New VM wizard', () => {
  it('starts on the name, with Next disabled and the reason next to it', async () => {
    const { next, stepTitle } = setup();
    const name = await screen.findByRole('textbox', { name: 'Name' });
    expect(stepTitle()).toHaveTextContent('Step 1 of 7Name and guest');
    expect(next()).toBeDisabled();
    expect(next()).toHaveAccessibleDescription('To continue: Name — Enter a name for the VM.');
    // Nothing red before the user did anything.
    expect(name).not.toHaveAttribute('aria-invalid');
    expect(screen.getByRole('radio', { name: /Linux/ })).toBeChecked();
  });

  it('shows each problem next to its field once the field was left, tied by aria-describedby', async () => {
    const { user } = setup();
    const name = await screen.findByRole('textbox', { name: 'Name' });
    await user.click(name);
    await user.tab();
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(name).toHaveAccessibleDescription(/Enter a name for the VM\./);

    await user.click(name);
    await user.paste('x'.repeat(129));
    expect(name).toHaveAccessibleDescription(/Use at most 128 characters \(this is 129\)\./);
    await user.clear(name);
    await user.type(name, 'Alpine');
    expect(name).not.toHaveAttribute('aria-invalid');
  });

  it('checks the boot files: absolute paths, and the initrd only when given', async () => {
    const ctx = setup();
    const { user, next } = ctx;
    await user.type(await screen.findByRole('textbox', { name: 'Name' }), 'Alpine');
    await user.click(next());

    const kernel = screen.getByRole('textbox', { name: 'Kernel' });
    expect(kernel).toHaveFocus();
    await user.type(kernel, 'vmlinuz');
    expect(kernel).toHaveAccessibleDescription(/Use the full path, starting with \//);
    expect(next()).toBeDisabled();
    await user.clear(kernel);
    await user.type(kernel, '/images/vmlinuz');
    const initrd = screen.getByRole('textbox', { name: 'Initial ramdisk (optional)' });
    await user.type(initrd, 'initrd.img');
    expect(initrd).toHaveAccessibleDescription(/full path/);
    await user.clear(initrd);
    expect(next()).toBeEnabled();
    expect(screen.getByRole('textbox', { name: 'Kernel command line' })).toHaveValue(
      'console=ttyS0',
    );
  });

  it('offers processors and memory within this computer’s limits, with sensible defaults', async () => {
    const ctx = setup({ cpuCount: 4, memoryGiB: 8 });
    const { user, next } = ctx;
    await throughBoot(ctx);

    const cpus = screen.getByRole('textbox', { name: 'Processors' });
    const memory = screen.getByRole('textbox', { name: 'Memory' });
    expect(cpus).toHaveValue('2');
    expect(memory).toHaveValue('2048');
    expect(cpus).toHaveAccessibleDescription('1 to 4: this computer has 4 logical CPUs.');
    expect(memory).toHaveAccessibleDescription(/This computer has 8 GiB\./);

    await user.clear(cpus);
    await user.type(cpus, '5');
    expect(cpus).toHaveAccessibleDescription(
      /Choose from 1 to 4 processors \(this computer has 4\)\./,
    );
    expect(next()).toBeDisabled();
    await user.clear(cpus);
    await user.type(cpus, '4');

    await user.clear(memory);
    await user.type(memory, '9000');
    expect(memory).toHaveAccessibleDescription(/from 64 to 8,192 MiB, the memory of this computer/);
    await user.clear(memory);
    await user.type(memory, '7000');
    expect(memory).toHaveAccessibleDescription(/leaves little memory for this computer/);
    expect(next()).toBeEnabled();
  });

  it('falls back to Nestbox’s limits when the computer cannot be asked', async () => {
    const user = userEvent.setup();
    const api = fakeServices().newVm;
    api.hostInfo.mockRejectedValue(new Error('no answer'));
    renderWithProviders(<NewVmWizard api={api} onCreated={vi.fn()} onCancel={vi.fn()} />);
    expect(await screen.findByText(/Couldn’t read this computer’s processors/)).toBeInTheDocument();
    await user.type(screen.getByRole('textbox', { name: 'Name' }), 'A');
    await user.click(screen.getByRole('button', { name: 'Next' }));
    await user.type(screen.getByRole('textbox', { name: 'Kernel' }), '/k');
    await user.click(screen.getByRole('button', { name: 'Next' }));
    expect(screen.getByRole('textbox', { name: 'Processors' })).toHaveAccessibleDescription(
      '1 to 64.',
    );
  });

  it('moves on with Enter and cancels with Escape', async () => {
    const { user, onCancel, stepTitle } = setup();
    await user.type(await screen.findByRole('textbox', { name: 'Name' }), 'Alpine{Enter}');
    expect(stepTitle()).toHaveTextContent('Boot');
    // Enter does nothing while the step is not valid.
    await user.type(screen.getByRole('textbox', { name: 'Kernel' }), '{Enter}');
    expect(stepTitle()).toHaveTextContent('Boot');
    await user.keyboard('{Escape}');
    expect(onCancel).toHaveBeenCalledOnce();
  });

  it('validates port forwards as they are added', async () => {
    const ctx = setup();
    const { user, next, stepTitle } = ctx;
    await throughBoot(ctx);
    await user.click(next()); // resources
    await user.click(next()); // disk
    expect(stepTitle()).toHaveTextContent('Network');
    expect(screen.getByRole('radio', { name: /NAT/ })).toBeChecked();

    await user.click(screen.getByRole('button', { name: 'Add port forward' }));
    const hostPort = screen.getByRole('textbox', { name: 'Host port, rule 1' });
    const guestPort = screen.getByRole('textbox', { name: 'Guest port, rule 1' });
    await user.type(hostPort, '70000');
    expect(hostPort).toHaveAccessibleDescription('Ports are whole numbers from 1 to 65535.');
    expect(next()).toBeDisabled();
    await user.clear(hostPort);
    await user.type(hostPort, '2222');
    await user.type(guestPort, '22');
    expect(next()).toBeEnabled();

    await user.click(screen.getByRole('button', { name: 'Add port forward' }));
    await user.type(screen.getByRole('textbox', { name: 'Host port, rule 2' }), '2222');
    await user.type(screen.getByRole('textbox', { name: 'Guest port, rule 2' }), '80');
    expect(screen.getByRole('textbox', { name: 'Host port, rule 2' })).toHaveAccessibleDescription(
      'Rule 1 already forwards TCP 127.0.0.1:2222.',
    );
    await user.selectOptions(screen.getByRole('combobox', { name: 'Protocol, rule 2' }), 'udp');
    expect(next()).toBeEnabled();

    const address = screen.getByRole('textbox', { name: 'Host address, rule 2' });
    await user.clear(address);
    await user.type(address, '0.0.0.300');
    expect(address).toHaveAccessibleDescription(/IPv4 address/);
    await user.click(screen.getByRole('button', { name: 'Remove rule 2' }));
    expect(next()).toBeEnabled();
  });

  it('creates the VM from the review with exactly what was chosen', async () => {
    const ctx = setup();
    const { user, next, api, onCreated, stepTitle } = ctx;
    await throughBoot(ctx);
    await user.click(next()); // resources: defaults
    await user.click(screen.getByRole('radio', { name: /Existing disk image/ }));
    expect(next()).toBeDisabled();
    await user.type(screen.getByRole('textbox', { name: 'Disk image' }), '/images/root.qcow2');
    await user.click(screen.getByRole('checkbox', { name: /Read-only/ }));
    await user.click(next());
    await user.click(screen.getByRole('radio', { name: /None/ })); // no network
    await user.click(next());
    await user.selectOptions(screen.getByRole('combobox', { name: 'Resolution' }), '1280x800');
    await user.click(next());

    expect(stepTitle()).toHaveTextContent('Review');
    const review = within(screen.getByRole('form'));
    expect(review.getByText('/images/root.qcow2')).toBeInTheDocument();
    expect(review.getByText('1280 × 800 (16 MiB video memory)')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Create VM' }));

    expect(api.createVm).toHaveBeenCalledExactlyOnceWith({
      name: 'Alpine',
      guestOs: 'linux',
      kernel: '/images/vmlinuz',
      append: 'console=ttyS0',
      cpus: 2,
      memoryMiB: 2048,
      disk: { file: '/images/root.qcow2', readOnly: true },
      network: { mode: 'none' },
      display: { width: 1280, height: 800, vramMiB: 16 },
    });
    expect(onCreated).toHaveBeenCalledOnce();
  });

  it('asks for a new 8 GiB disk and NAT by default', async () => {
    const ctx = setup();
    const { user, next, api } = ctx;
    await throughBoot(ctx);
    for (let i = 0; i < 4; i++) await user.click(next());
    await user.click(screen.getByRole('button', { name: 'Create VM' }));
    expect(api.createVm).toHaveBeenCalledWith(
      expect.objectContaining({
        newDisk: { sizeBytes: 8 * 1024 ** 3 },
        network: { mode: 'nat', portForwards: [] },
        display: { width: 1024, height: 768, vramMiB: 16 },
      }),
    );
  });

  it('shows the service’s refusal next to the field and offers the way back to it', async () => {
    const ctx = setup();
    const { user, next, api, onCreated, stepTitle } = ctx;
    api.createVm.mockRejectedValueOnce(
      new NestboxClientError('remote', 'The request has 1 problem', {
        issues: [{ path: 'kernel', message: 'does not exist' }],
      }),
    );
    await throughBoot(ctx);
    for (let i = 0; i < 4; i++) await user.click(next());
    await user.click(screen.getByRole('button', { name: 'Create VM' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Couldn’t create the VM');
    expect(alert).toHaveTextContent('kernel: does not exist');
    expect(onCreated).not.toHaveBeenCalled();
    await user.click(within(alert).getByRole('button', { name: 'Change kernel' }));
    expect(stepTitle()).toHaveTextContent('Boot');
    expect(screen.getByRole('textbox', { name: 'Kernel' })).toHaveAccessibleDescription(
      /does not exist/,
    );
  });

  it('lets the user go back to a step it has seen, but not skip ahead', async () => {
    const ctx = setup();
    const { user, stepTitle } = ctx;
    await throughBoot(ctx);
    const steps = within(screen.getByRole('navigation', { name: 'Steps' }));
    expect(steps.getByRole('button', { name: /Review/ })).toBeDisabled();
    expect(steps.getByRole('button', { name: /Processors and memory/ })).toHaveAttribute(
      'aria-current',
      'step',
    );
    await user.click(steps.getByRole('button', { name: /Name and guest/ }));
    expect(stepTitle()).toHaveTextContent('Name and guest');
    expect(screen.getByRole('textbox', { name: 'Name' })).toHaveValue('Alpine');
  });
});
