import type { ComponentProps } from 'react';
import { createXtermTerminal } from '../terminal/xterm-terminal.ts';
import { SerialConsole } from './SerialConsole.tsx';

/** The serial console drawn by xterm.js: what the app shows (and loads only when needed). */
export function XtermSerialConsole(
  props: Omit<ComponentProps<typeof SerialConsole>, 'createTerminal'>,
) {
  return <SerialConsole {...props} createTerminal={createXtermTerminal} />;
}
