import { act, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderWithProviders } from '../../../test/render.tsx';
import type { ConsoleApi } from '../api/console-api.ts';
import type {
  ConsoleTerminalHandlers,
  CreateConsoleTerminal,
} from '../terminal/console-terminal.ts';
import { SerialConsole, preparePaste } from './SerialConsole.tsx';

/** A terminal that records what it was told; the test plays the user through `handlers`. */
function fakeTerminal() {
  const state = {
    screen: '',
    selection: '',
    bracketed: false,
    inputEnabled: true,
    resets: 0,
    disposed: false,
    handlers: null as ConsoleTerminalHandlers | null,
  };
  const create: CreateConsoleTerminal = (handlers) => {
    state.handlers = handlers;
    return {
      open: () => {},
      write: (text) => void (state.screen += text),
      reset: () => {
        state.resets += 1;
        state.screen = '';
      },
      getSelection: () => state.selection,
      bracketedPaste: () => state.bracketed,
      setInputEnabled: (enabled) => void (state.inputEnabled = enabled),
      focus: () => {},
      dispose: () => void (state.disposed = true),
    };
  };
  const user = () => {
    if (!state.handlers) throw new Error('no terminal yet');
    return state.handlers;
  };
  return { create, state, user };
}

/** A console whose output the test sends and whose input it records. */
function fakeConsole() {
  const opened: {
    data(bytes: Uint8Array): void;
    end(reason: string): void;
    write: ReturnType<typeof vi.fn>;
    close: ReturnType<typeof vi.fn>;
  }[] = [];
  const api = {
    open: vi.fn(
      (_vmId: string, handlers: { data(bytes: Uint8Array): void; end(reason: string): void }) => {
        const connection = {
          ...handlers,
          write: vi.fn(async (_text: string) => {}),
          close: vi.fn(),
        };
        opened.push(connection);
        return connection;
      },
    ),
    paste: vi.fn(async (_vmId: string, _text: string) => {}),
  } satisfies ConsoleApi;
  const last = () => {
    const connection = opened.at(-1);
    if (!connection) throw new Error('no console opened');
    return connection;
  };
  return { api, opened, last };
}

const utf8 = new TextEncoder();

function setup({ running = true }: { running?: boolean } = {}) {
  const terminal = fakeTerminal();
  const console = fakeConsole();
  const result = renderWithProviders(
    <SerialConsole
      vmId="vm-1"
      vmName="Alpine"
      api={console.api}
      running={running}
      createTerminal={terminal.create}
    />,
  );
  return { terminal, console, ...result };
}

describe('Serial console', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('opens the VM’s console with its history and shows what the guest prints', () => {
    const { terminal, console } = setup();
    expect(console.api.open).toHaveBeenCalledExactlyOnceWith('vm-1', expect.any(Object));
    expect(screen.getByRole('region', { name: 'Serial console of Alpine' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('Connected');

    // "é" split between two messages, and a 24-bit colour the page's CSP could not show.
    const bytes = utf8.encode('echo ready\r\ncaf\u00e9 \x1b[38;2;255;0;0mred\x1b[0m');
    const cut = bytes.indexOf(0xc3) + 1;
    act(() => {
      console.last().data(bytes.slice(0, cut));
      console.last().data(bytes.slice(cut));
    });
    expect(terminal.state.screen).toBe('echo ready\r\ncaf\u00e9 \x1b[38;5;196mred\x1b[0m');
  });

  it('sends what is typed, in order', async () => {
    const { terminal, console } = setup();
    act(() => {
      terminal.user().input('l');
      terminal.user().input('s');
      terminal.user().input('\r');
    });
    await waitFor(() => expect(console.last().write).toHaveBeenCalledTimes(3));
    expect(console.last().write.mock.calls).toEqual([['l'], ['s'], ['\r']]);
  });

  it('pastes through vms.sendSerial, line breaks as Enter, bracketed when the guest asks', async () => {
    const { terminal, console } = setup();
    act(() => terminal.user().paste('uname -a\nexit\n'));
    await waitFor(() => expect(console.api.paste).toHaveBeenCalledWith('vm-1', 'uname -a\rexit\r'));
    terminal.state.bracketed = true;
    act(() => terminal.user().paste('x'));
    await waitFor(() =>
      expect(console.api.paste).toHaveBeenLastCalledWith('vm-1', '\x1b[200~x\x1b[201~'),
    );
    expect(console.last().write).not.toHaveBeenCalled();
  });

  it('pastes the clipboard with the Paste button', async () => {
    const user = userEvent.setup();
    const { console } = setup();
    vi.spyOn(navigator.clipboard, 'readText').mockResolvedValue('root\n');
    await user.click(screen.getByRole('button', { name: 'Paste' }));
    await waitFor(() => expect(console.api.paste).toHaveBeenCalledWith('vm-1', 'root\r'));
  });

  it('copies the selection to the clipboard', async () => {
    const user = userEvent.setup();
    const { terminal } = setup();
    const copy = screen.getByRole('button', { name: 'Copy' });
    expect(copy).toBeDisabled();

    terminal.state.selection = 'Linux version 6.1.0';
    act(() => terminal.user().selectionChange());
    expect(copy).toBeEnabled();
    const writeText = vi.spyOn(navigator.clipboard, 'writeText');
    await user.click(copy);
    expect(writeText).toHaveBeenCalledWith('Linux version 6.1.0');
    expect(await screen.findByText('Copied the selection')).toBeInTheDocument();

    // Ctrl+Shift+C in the terminal does the same.
    act(() => terminal.user().copy());
    expect(writeText).toHaveBeenCalledTimes(2);
  });

  it('says when it is disconnected, keeps what it showed, and reconnects', async () => {
    const user = userEvent.setup();
    const { terminal, console } = setup();
    act(() => console.last().data(utf8.encode('login: ')));
    act(() => console.last().end('the VM stopped.'));

    expect(screen.getByRole('status')).toHaveTextContent('Disconnected: the VM stopped.');
    expect(screen.getByText('Disconnected', { selector: 'p[aria-hidden]' })).toBeInTheDocument();
    expect(terminal.state.inputEnabled).toBe(false);
    expect(terminal.state.screen).toBe('login: ');
    expect(screen.getByRole('button', { name: 'Paste' })).toBeDisabled();
    // Typing goes nowhere while disconnected.
    act(() => terminal.user().input('x'));

    await user.click(screen.getByRole('button', { name: 'Reconnect' }));
    expect(console.api.open).toHaveBeenCalledTimes(2);
    // The history comes again, so the screen starts empty.
    expect(terminal.state.resets).toBe(1);
    expect(terminal.state.inputEnabled).toBe(true);
    expect(screen.getByRole('status')).toHaveTextContent('Connected');
    expect(console.opened[0]?.write).not.toHaveBeenCalled();
  });

  it('offers no reconnect until the VM runs again', () => {
    const { console } = setup({ running: false });
    act(() => console.last().end('"Alpine" is not running'));
    expect(screen.getByRole('status')).toHaveTextContent('Disconnected: "Alpine" is not running');
    expect(screen.getByRole('button', { name: 'Reconnect' })).toBeDisabled();
  });

  it('closes the console and the terminal when the page goes', () => {
    const { terminal, console, unmount } = setup();
    unmount();
    expect(console.last().close).toHaveBeenCalled();
    expect(terminal.state.disposed).toBe(true);
  });
});

describe('preparePaste', () => {
  it('sends line breaks as Enter and brackets the text when asked', () => {
    expect(preparePaste('a\r\nb\nc', false)).toBe('a\rb\rc');
    expect(preparePaste('a\n', true)).toBe('\x1b[200~a\r\x1b[201~');
  });
});
