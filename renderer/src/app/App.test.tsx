import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeClient } from '../test/fakes.ts';
import { App } from './App.tsx';

describe('App shell', () => {
  it('has a header, a navigation and the main area', async () => {
    render(<App client={fakeClient()} />);

    expect(within(screen.getByRole('banner')).getByText('Nestbox')).toBeInTheDocument();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    const link = within(nav).getByRole('link', { name: 'This computer' });
    expect(link).toHaveAttribute('aria-current', 'page');
    expect(link).toHaveAttribute('href', '#/this-computer');
    expect(
      within(screen.getByRole('main')).getByRole('heading', { level: 1, name: 'This computer' }),
    ).toBeInTheDocument();
    await screen.findByTestId('kvm-status');
  });

  it('offers only screens that exist, and no dead buttons', async () => {
    render(<App client={fakeClient()} />);
    await screen.findByTestId('kvm-status');

    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(
      within(nav)
        .getAllByRole('link')
        .map((link) => link.textContent),
    ).toEqual(['This computer']);
    expect(screen.queryByText(/library/i)).not.toBeInTheDocument();
    // A machine that is ready needs no action: nothing to press.
    expect(screen.queryAllByRole('button')).toEqual([]);
  });

  it('lets keyboard users skip straight to the content', async () => {
    const user = userEvent.setup();
    render(<App client={fakeClient()} />);
    await screen.findByTestId('kvm-status');

    await user.tab();
    const skip = screen.getByRole('link', { name: 'Skip to content' });
    expect(skip).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(screen.getByRole('main')).toHaveFocus();
  });

  it('says when the page is a nestbox serve browser session', async () => {
    const client = { ...fakeClient(), transport: 'http' as const };
    render(<App client={client} />);
    await screen.findByTestId('kvm-status');
    expect(screen.getByRole('banner')).toHaveTextContent('Browser session via nestbox serve');
  });
});
