import { act, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { VmProgress, VmRunStatus } from '../../../client/contract.ts';
import { fakeServices, vmList, vmSummary } from '../../../test/fakes.ts';
import { renderWithProviders } from '../../../test/render.tsx';
import { PowerToolbar } from './PowerToolbar.tsx';
import { VmSummaryPage } from './VmSummaryPage.tsx';

describe('A suspended VM', () => {
  function setup() {
    const user = userEvent.setup();
    const services = fakeServices(
      vmList([vmSummary({ id: 'vm-1', name: 'Alpine Linux', state: 'suspended' })]),
    );
    const library = {
      ...services.library,
      power: { ...services.library.power, suspend: vi.fn() },
      discardSavedState: vi.fn(async (id: string): Promise<VmRunStatus> => ({
        id,
        state: 'running',
      })),
    };
    renderWithProviders(<VmSummaryPage vmId="vm-1" />, { library });
    return { user, library };
  }

  it('shows its state, and Start says Resume', async () => {
    const { user, library } = setup();
    const heading = await screen.findByRole('heading', { level: 1, name: 'Alpine Linux' });
    expect(heading.parentElement).toHaveTextContent('Suspended');
    const toolbar = screen.getByRole('toolbar', { name: 'Power' });
    expect(within(toolbar).queryByRole('button', { name: 'Start' })).not.toBeInTheDocument();
    const resume = within(toolbar).getByRole('button', { name: 'Resume' });
    expect(resume).toHaveAttribute('title', 'Continue the VM from its saved state');
    expect(within(toolbar).getByRole('button', { name: 'Suspend' })).toBeDisabled();

    await user.click(resume);
    expect(library.power.start).toHaveBeenCalledExactlyOnceWith('vm-1');
    expect(
      await screen.findByText('Alpine Linux resumed from its saved state'),
    ).toBeInTheDocument();
  });

  it('can throw its saved state away, after a confirmation', async () => {
    const { user, library } = setup();
    await user.click(await screen.findByRole('button', { name: 'Discard saved state…' }));
    const confirm = screen.getByRole('alertdialog', {
      name: 'Discard the saved state of Alpine Linux?',
    });
    expect(confirm).toHaveTextContent('whatever was running when it was suspended is lost');
    // Cancel has focus first: the safe choice.
    expect(within(confirm).getByRole('button', { name: 'Cancel' })).toHaveFocus();

    await user.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(library.discardSavedState).not.toHaveBeenCalled();

    await user.click(screen.getByRole('button', { name: 'Discard saved state…' }));
    await user.click(screen.getByRole('button', { name: 'Discard and start' }));
    expect(library.discardSavedState).toHaveBeenCalledExactlyOnceWith('vm-1');
    expect(await screen.findByText('Alpine Linux started afresh')).toBeInTheDocument();
    expect(screen.queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(library.power.start).not.toHaveBeenCalled();
  });
});

describe('Suspending', () => {
  it('shows how far the memory has been saved, then lets go of the progress', async () => {
    const user = userEvent.setup();
    let report: (progress: VmProgress) => void = () => {};
    const unsubscribe = vi.fn();
    const watchProgress = vi.fn((_id: string, onProgress: (progress: VmProgress) => void) => {
      report = onProgress;
      return unsubscribe;
    });
    let finish: () => void = () => {};
    const suspend = vi.fn(
      (id: string) =>
        new Promise<VmRunStatus>((resolve) => (finish = () => resolve({ id, state: 'suspended' }))),
    );
    renderWithProviders(
      <PowerToolbar
        vmId="vm-1"
        vmName="Alpine"
        state="running"
        power={{ suspend, start: vi.fn() }}
        watchProgress={watchProgress}
      />,
    );

    await user.click(screen.getByRole('button', { name: 'Suspend' }));
    expect(watchProgress).toHaveBeenCalledWith('vm-1', expect.any(Function));
    expect(suspend).toHaveBeenCalledWith('vm-1');
    const bar = screen.getByRole('progressbar', { name: 'Suspending Alpine…' });
    expect(bar).not.toHaveAttribute('aria-valuenow');
    act(() => report({ operation: 'suspend', done: 3, total: 4 }));
    expect(bar).toHaveAttribute('aria-valuenow', '75');

    await act(async () => finish());
    expect(await screen.findByText('Alpine is suspended')).toBeInTheDocument();
    expect(unsubscribe).toHaveBeenCalled();
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
  });
});
