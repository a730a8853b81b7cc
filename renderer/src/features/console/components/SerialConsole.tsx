import { useEffect, useId, useRef, useState } from 'react';
import { Button } from '../../../components/Button.tsx';
import { errorMessage } from '../../../components/format.ts';
import { ClipboardIcon, CopyIcon } from '../../../components/icons.tsx';
import { useToast } from '../../../components/toast/toast-context.ts';
import type { ConsoleApi, ConsoleConnection } from '../api/console-api.ts';
import type {
  ConsoleTerminal,
  ConsoleTerminalHandlers,
  CreateConsoleTerminal,
} from '../terminal/console-terminal.ts';
import { TrueColorDowngrade } from '../terminal/true-color.ts';
import './console.css';

interface SerialConsoleProps {
  vmId: string;
  vmName: string;
  api: ConsoleApi;
  /** Whether the VM runs now: a lost console can then be reconnected. */
  running: boolean;
  /** The terminal to draw in: xterm.js in the app (XtermSerialConsole), a fake in tests. */
  createTerminal: CreateConsoleTerminal;
}

/** Terminals send Enter as CR; a pasted text's line breaks are sent the same way. */
export function preparePaste(text: string, bracketed: boolean): string {
  const lines = text.replace(/\r?\n/g, '\r');
  return bracketed ? `\x1b[200~${lines}\x1b[201~` : lines;
}

/**
 * A VM's serial console (COM1) in a terminal: what the guest printed before (its history),
 * then everything live; typing goes to the guest in order. Copy takes the terminal's
 * selection; paste sends the clipboard's text. When the connection ends (the VM stopped) the
 * console says so, keeps what it showed, and offers to reconnect.
 */
export function SerialConsole({ vmId, vmName, api, running, createTerminal }: SerialConsoleProps) {
  const toast = useToast();
  const hostRef = useRef<HTMLDivElement>(null);
  const terminalRef = useRef<ConsoleTerminal | null>(null);
  const connectionRef = useRef<ConsoleConnection | null>(null);
  // Typed and pasted input leave one after another, in the order the user gave them.
  const inputQueue = useRef<Promise<void>>(Promise.resolve());
  const [attempt, setAttempt] = useState(0);
  const [ended, setEnded] = useState<{ attempt: number; reason: string } | null>(null);
  const [hasSelection, setHasSelection] = useState(false);
  const [inputProblem, setInputProblem] = useState<string | null>(null);
  const hintId = useId();
  const connected = ended?.attempt !== attempt;

  function send(deliver: (connection: ConsoleConnection) => Promise<void>) {
    const connection = connectionRef.current;
    if (!connection) return;
    inputQueue.current = inputQueue.current
      .then(() => deliver(connection))
      .then(
        () => setInputProblem(null),
        (error: unknown) => setInputProblem(errorMessage(error)),
      );
  }

  function pasteText(text: string) {
    if (!text) return;
    const data = preparePaste(text, terminalRef.current?.bracketedPaste() ?? false);
    send((connection) => (api.paste ? api.paste(vmId, data) : connection.write(data)));
  }

  function copySelection() {
    const selection = terminalRef.current?.getSelection() ?? '';
    if (!selection) return;
    const clipboard = navigator.clipboard as Clipboard | undefined;
    if (!clipboard) {
      toast.notify({ tone: 'error', title: 'Couldn’t copy', message: 'No clipboard here.' });
      return;
    }
    clipboard.writeText(selection).then(
      () => toast.notify({ tone: 'success', title: 'Copied the selection' }),
      (error: unknown) =>
        toast.notify({ tone: 'error', title: 'Couldn’t copy', message: errorMessage(error) }),
    );
  }

  // What the terminal's events do, as of the latest render (the terminal is made only once).
  const handlers = useRef<ConsoleTerminalHandlers | null>(null);
  useEffect(() => {
    handlers.current = {
      input: (data) => send((connection) => connection.write(data)),
      paste: pasteText,
      copy: copySelection,
      selectionChange: () => setHasSelection((terminalRef.current?.getSelection() ?? '') !== ''),
    };
  });

  // The terminal, once for the page's life.
  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    const terminal = createTerminal({
      input: (data) => handlers.current?.input(data),
      paste: (text) => handlers.current?.paste(text),
      copy: () => handlers.current?.copy(),
      selectionChange: () => handlers.current?.selectionChange(),
    });
    terminal.open(host);
    terminalRef.current = terminal;
    return () => {
      terminalRef.current = null;
      terminal.dispose();
    };
  }, [createTerminal]);

  // The connection, again on each reconnect (whose history replaces what was shown).
  useEffect(() => {
    const terminal = terminalRef.current;
    if (attempt > 0) terminal?.reset();
    terminal?.setInputEnabled(true);
    const decoder = new TextDecoder();
    const colours = new TrueColorDowngrade();
    const connection = api.open(vmId, {
      data: (bytes) =>
        terminalRef.current?.write(colours.push(decoder.decode(bytes, { stream: true }))),
      end: (reason) => {
        if (connectionRef.current === connection) connectionRef.current = null;
        terminalRef.current?.setInputEnabled(false);
        setEnded({ attempt, reason });
      },
    });
    connectionRef.current = connection;
    return () => {
      if (connectionRef.current === connection) connectionRef.current = null;
      connection.close();
    };
  }, [api, vmId, attempt]);

  async function pasteFromClipboard() {
    try {
      pasteText(await navigator.clipboard.readText());
    } catch (error) {
      toast.notify({
        tone: 'error',
        title: 'Couldn’t read the clipboard',
        message: `${errorMessage(error)} Paste into the console with Ctrl+Shift+V instead.`,
      });
    }
    terminalRef.current?.focus();
  }

  return (
    <section className="serial-console" aria-label={`Serial console of ${vmName}`}>
      <div className="serial-console__bar">
        <p
          className={
            connected
              ? 'serial-console__status'
              : 'serial-console__status serial-console__status--off'
          }
          role="status"
        >
          <span className="serial-console__dot" aria-hidden="true" />
          {connected ? 'Connected' : `Disconnected: ${ended?.reason ?? ''}`}
        </p>
        <div className="serial-console__actions">
          <Button
            size="small"
            disabled={!hasSelection}
            aria-describedby={hintId}
            onClick={copySelection}
          >
            <CopyIcon />
            Copy
          </Button>
          <Button
            size="small"
            disabled={!connected}
            aria-describedby={hintId}
            onClick={() => void pasteFromClipboard()}
          >
            <ClipboardIcon />
            Paste
          </Button>
          {!connected && (
            <Button
              size="small"
              variant="primary"
              disabled={!running}
              title={running ? undefined : 'Start the VM first'}
              onClick={() => setAttempt((n) => n + 1)}
            >
              Reconnect
            </Button>
          )}
        </div>
      </div>
      <div
        className={
          connected ? 'serial-console__frame' : 'serial-console__frame serial-console__frame--off'
        }
      >
        <div ref={hostRef} className="serial-console__screen" data-testid="serial-console" />
        {!connected && (
          <p className="serial-console__overlay" aria-hidden="true">
            Disconnected
          </p>
        )}
      </div>
      {inputProblem && (
        <p className="serial-console__problem" role="alert">
          Couldn’t send to the console: {inputProblem}
        </p>
      )}
      <p id={hintId} className="serial-console__hint">
        Select text to copy it (Ctrl+Shift+C); Ctrl+Shift+V pastes. What you type goes to the
        guest’s first serial port.
      </p>
    </section>
  );
}
