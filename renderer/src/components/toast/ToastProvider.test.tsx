import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useToast, type ToastInput } from './toast-context.ts';
import { ToastProvider } from './ToastProvider.tsx';

function Notifier({ toast }: { toast: ToastInput }) {
  const { notify } = useToast();
  return (
    <button type="button" onClick={() => notify(toast)}>
      Notify
    </button>
  );
}

function region() {
  return screen.getByRole('region', { name: 'Notifications' });
}

describe('toasts', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('announces through one polite live region that is there before any toast', async () => {
    const user = userEvent.setup();
    render(
      <ToastProvider>
        <Notifier toast={{ tone: 'success', title: 'Started Alpine' }} />
      </ToastProvider>,
    );
    const live = region().querySelector('[aria-live]');
    expect(live).toHaveAttribute('aria-live', 'polite');
    expect(live).toBeEmptyDOMElement();

    await user.click(screen.getByRole('button', { name: 'Notify' }));
    expect(within(region()).getByText('Started Alpine')).toBeInTheDocument();
    expect(document.querySelectorAll('[aria-live]')).toHaveLength(1);
  });

  it('lets success fade after a while but keeps errors until dismissed', () => {
    vi.useFakeTimers();
    render(
      <ToastProvider durationMs={5000}>
        <Notifier toast={{ tone: 'success', title: 'Saved' }} />
        <Notifier toast={{ tone: 'error', title: 'Couldn’t start Alpine', message: 'No KVM' }} />
      </ToastProvider>,
    );
    const [success, failure] = screen.getAllByRole('button', { name: 'Notify' });
    act(() => success?.click());
    act(() => failure?.click());
    expect(within(region()).getAllByRole('listitem')).toHaveLength(2);

    act(() => vi.advanceTimersByTime(5000));
    expect(within(region()).queryByText('Saved')).not.toBeInTheDocument();
    expect(within(region()).getByText('Couldn’t start Alpine')).toBeInTheDocument();
    expect(within(region()).getByText('No KVM')).toBeInTheDocument();

    act(() => vi.advanceTimersByTime(60_000));
    act(() => screen.getByRole('button', { name: 'Dismiss: Couldn’t start Alpine' }).click());
    expect(within(region()).queryAllByRole('listitem')).toHaveLength(0);
  });

  it('keeps only the newest few', async () => {
    const user = userEvent.setup();
    render(
      <ToastProvider maxVisible={2}>
        <Notifier toast={{ tone: 'error', title: 'Failed' }} />
      </ToastProvider>,
    );
    for (let i = 0; i < 4; i++) await user.click(screen.getByRole('button', { name: 'Notify' }));
    expect(within(region()).getAllByRole('listitem')).toHaveLength(2);
  });

  it('needs a provider', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<Notifier toast={{ title: 'x' }} />)).toThrow(/ToastProvider/);
  });
});
