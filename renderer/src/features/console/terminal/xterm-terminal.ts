/**
 * The serial console's terminal: xterm.js with its DOM renderer, made to work under the page's
 * CSP (adopted-styles.ts), sized to its container, with Ctrl+Shift+C / Ctrl+Shift+V and pastes
 * handed to the console instead of being typed by xterm.
 */
import { Terminal } from '@xterm/xterm';
// A file of its own in the build (style-src 'self'), not a <style> element.
import '@xterm/xterm/css/xterm.css';
import {
  AdoptedStyleSheets,
  styleRedirectingDocument,
  withStyleElementsRedirected,
} from './adopted-styles.ts';
import type { ConsoleTerminal, ConsoleTerminalHandlers } from './console-terminal.ts';

const fontFamily = 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace';
const fontSize = 14;
const minColumns = 20;
const minRows = 5;
/** Room for xterm's scrollbar. */
const scrollbarWidth = 14;

/** The console keeps a dark screen in both themes, like the VM display. */
const theme = {
  background: '#0b0d10',
  foreground: '#e6e9ef',
  cursor: '#e6e9ef',
  cursorAccent: '#0b0d10',
  selectionBackground: '#3d5a80',
  selectionForeground: '#ffffff',
};

/** One cell of the terminal's font, measured the way xterm does (a run of W). */
function measureCell(parent: HTMLElement): { width: number; height: number } {
  const probe = parent.ownerDocument.createElement('span');
  // Style properties set through the CSSOM, which the CSP allows.
  probe.style.position = 'absolute';
  probe.style.visibility = 'hidden';
  probe.style.whiteSpace = 'pre';
  probe.style.fontFamily = fontFamily;
  probe.style.fontSize = `${fontSize}px`;
  probe.style.lineHeight = 'normal';
  probe.textContent = 'W'.repeat(32);
  parent.appendChild(probe);
  const box = probe.getBoundingClientRect();
  probe.remove();
  return { width: box.width / 32 || 8, height: Math.ceil(box.height) || 17 };
}

export function createXtermTerminal(handlers: ConsoleTerminalHandlers): ConsoleTerminal {
  const sheets = new AdoptedStyleSheets(document);
  const terminal = new Terminal({
    documentOverride: styleRedirectingDocument(document, sheets),
    fontFamily,
    fontSize,
    cursorBlink: true,
    scrollback: 5000,
    theme,
  });
  const disposables = [
    terminal.onData((data) => handlers.input(data)),
    terminal.onSelectionChange(() => handlers.selectionChange()),
  ];
  terminal.attachCustomKeyEventHandler((event) => {
    if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey || event.altKey) return true;
    if (event.code === 'KeyC') {
      event.preventDefault();
      handlers.copy();
      return false;
    }
    // Ctrl+Shift+V: let the browser paste; the paste event below takes it.
    return event.code !== 'KeyV';
  });
  // Pastes go to the console (as vms.sendSerial), not through xterm's own handler: listen
  // before xterm does (capture, on the container) and stop the event there.
  const onPaste = (event: ClipboardEvent) => {
    event.preventDefault();
    event.stopPropagation();
    const text = event.clipboardData?.getData('text/plain') ?? '';
    if (text) handlers.paste(text);
  };
  let container: HTMLElement | null = null;
  let resizeObserver: ResizeObserver | null = null;

  function fit() {
    if (!container) return;
    const cell = measureCell(container);
    const { width, height } = container.getBoundingClientRect();
    const cols = Math.max(minColumns, Math.floor((width - scrollbarWidth) / cell.width));
    const rows = Math.max(minRows, Math.floor(height / cell.height));
    if (cols !== terminal.cols || rows !== terminal.rows) terminal.resize(cols, rows);
  }

  return {
    open(parent) {
      container = parent;
      parent.addEventListener('paste', onPaste, { capture: true });
      withStyleElementsRedirected(document, sheets, () => terminal.open(parent));
      fit();
      resizeObserver = new ResizeObserver(() => fit());
      resizeObserver.observe(parent);
    },
    write: (text) => terminal.write(text),
    reset: () => terminal.reset(),
    getSelection: () => terminal.getSelection(),
    bracketedPaste: () => terminal.modes.bracketedPasteMode,
    setInputEnabled(enabled) {
      terminal.options.disableStdin = !enabled;
      terminal.options.cursorBlink = enabled;
    },
    focus: () => terminal.focus(),
    dispose() {
      resizeObserver?.disconnect();
      container?.removeEventListener('paste', onPaste, { capture: true });
      for (const disposable of disposables) disposable.dispose();
      terminal.dispose();
      sheets.dispose();
    },
  };
}
