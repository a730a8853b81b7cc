/**
 * The terminal the serial console draws in, as the console uses it. The app's is xterm.js
 * (xterm-terminal.ts); tests give a fake, since xterm needs a real browser to lay out.
 */
export interface ConsoleTerminal {
  /** Puts the terminal into `parent` and keeps it sized to it. */
  open(parent: HTMLElement): void;
  /** Guest output, decoded. */
  write(text: string): void;
  /** Clears the screen and scrollback (before a reconnect replays the history). */
  reset(): void;
  getSelection(): string;
  /** Whether the guest asked for bracketed paste (ESC [ ? 2004 h). */
  bracketedPaste(): boolean;
  /** Off while disconnected: keys then do nothing. */
  setInputEnabled(enabled: boolean): void;
  focus(): void;
  dispose(): void;
}

export interface ConsoleTerminalHandlers {
  /** What the user typed, as terminal input (Enter is "\r", arrows are escape sequences). */
  input(data: string): void;
  /** Text pasted into the terminal (Ctrl+Shift+V, the context menu). */
  paste(text: string): void;
  /** Ctrl+Shift+C. */
  copy(): void;
  selectionChange(): void;
}

export type CreateConsoleTerminal = (handlers: ConsoleTerminalHandlers) => ConsoleTerminal;
