import { act, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { Job } from '../../client/contract.ts';
import { NestboxClientError } from '../../client/client-error.ts';
import { renderWithProviders } from '../../test/render.tsx';
import type { JobsApi } from './api/jobs-api.ts';
import { JobsIndicator } from './JobsIndicator.tsx';

function job(overrides: Partial<Job>): Job {
  return {
    id: 'job-1',
    kind: 'clone',
    vmId: 'vm-1',
    label: 'Clone “Alpine” as “Copy”',
    state: 'running',
    done: 0,
    total: 0,
    startedAt: '2026-01-01T00:00:00.000Z',
    cancellable: true,
    ...overrides,
  };
}

function setup(cancelJob: JobsApi['cancelJob'] = vi.fn(async (id: string) => job({ id }))) {
  const user = userEvent.setup();
  let push: (jobs: Job[]) => void = () => undefined;
  const stop = vi.fn();
  const api = {
    watchJobs: vi.fn((onJobs: (jobs: Job[]) => void) => {
      push = onJobs;
      return stop;
    }),
    cancelJob: vi.fn(cancelJob),
  };
  const view = renderWithProviders(<JobsIndicator api={api} />);
  return { user, api, stop, view, push: (jobs: Job[]) => act(() => push(jobs)) };
}

describe('Jobs indicator', () => {
  it('shows nothing while no job runs, and stops watching when it goes', () => {
    const { api, stop, view, push } = setup();
    push([job({ state: 'done' })]);
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
    expect(api.watchJobs).toHaveBeenCalledTimes(1);
    view.unmount();
    expect(stop).toHaveBeenCalledTimes(1);
  });

  it('lists running jobs with a progress bar each, and Cancel only where it can', async () => {
    const { user, push } = setup();
    push([
      job({ id: 'a', done: 25, total: 100 }),
      job({ id: 'b', kind: 'snapshot-revert', label: 'Revert “Alpine”', cancellable: false }),
      job({ id: 'c', state: 'failed', label: 'Old failure' }),
    ]);
    expect(screen.getByRole('status')).toHaveTextContent('2 operations running');
    const toggle = screen.getByRole('button', { name: '2 operations running' });
    expect(toggle).toHaveAttribute('aria-expanded', 'false');

    await user.click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    const list = screen.getByRole('region', { name: 'Running operations' });
    expect(toggle).toHaveAttribute('aria-controls', list.id);
    const clone = within(list).getByRole('progressbar', { name: 'Clone “Alpine” as “Copy”' });
    expect(clone).toHaveAttribute('aria-valuenow', '25');
    const revert = within(list).getByRole('progressbar', { name: 'Revert “Alpine”' });
    expect(revert).not.toHaveAttribute('aria-valuenow');
    expect(within(list).getAllByRole('button', { name: /^Cancel/ })).toHaveLength(1);
    expect(within(list).queryByText('Old failure')).not.toBeInTheDocument();

    // Progress moves on.
    push([job({ id: 'a', done: 50, total: 100 })]);
    expect(within(list).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '50');
    expect(screen.getByRole('status')).toHaveTextContent('1 operation running');
  });

  it('cancels a job, and closes once nothing runs', async () => {
    const { user, api, push } = setup();
    push([job({ id: 'a', done: 1, total: 4 })]);
    await user.click(screen.getByRole('button', { name: '1 operation running' }));
    await user.click(screen.getByRole('button', { name: 'Cancel Clone “Alpine” as “Copy”' }));
    expect(api.cancelJob).toHaveBeenCalledWith('a');
    expect(screen.getByRole('button', { name: 'Cancel Clone “Alpine” as “Copy”' })).toHaveAttribute(
      'aria-busy',
      'true',
    );

    push([job({ id: 'a', state: 'cancelled' })]);
    expect(screen.queryByRole('region', { name: 'Running operations' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
  });

  it('says why a cancel was refused', async () => {
    const { user, push } = setup(async () => {
      throw new NestboxClientError('remote', 'Clone has already ended (done).', {
        code: 'invalid-state',
      });
    });
    push([job({ id: 'a' })]);
    await user.click(screen.getByRole('button', { name: '1 operation running' }));
    await user.click(screen.getByRole('button', { name: /^Cancel/ }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Clone has already ended (done).');
    expect(screen.getByRole('button', { name: /^Cancel/ })).not.toHaveAttribute('aria-busy');
  });

  it('closes with Escape and gives focus back to its button', async () => {
    const { user, push } = setup();
    push([job({ id: 'a' })]);
    const toggle = screen.getByRole('button', { name: '1 operation running' });
    await user.click(toggle);
    await user.tab();
    expect(screen.getByRole('button', { name: /^Cancel/ })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('region', { name: 'Running operations' })).not.toBeInTheDocument();
    expect(toggle).toHaveFocus();
  });
});
