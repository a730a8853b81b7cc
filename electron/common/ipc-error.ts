/**
 * A WireError through Electron IPC. `ipcMain.handle` passes only an Error's message to the
 * renderer (wrapped as "Error invoking remote method 'x': Error: …"), so main puts the whole
 * WireError in the message after a marker and the renderer takes it back out: the code and
 * the field issues survive, not just the text.
 */
import type { WireError } from './contract.ts';

const MARKER = 'nestbox-wire-error:';

export function encodeIpcError(body: WireError): string {
  return `${MARKER}${JSON.stringify(body)}`;
}

/** The WireError inside an IPC rejection's message, or null when there is none. */
export function decodeIpcError(message: string): WireError['error'] | null {
  const at = message.indexOf(MARKER);
  if (at < 0) return null;
  try {
    const body = JSON.parse(message.slice(at + MARKER.length)) as Partial<WireError> | null;
    const error = body?.error;
    if (typeof error?.message !== 'string') return null;
    return {
      message: error.message,
      ...(typeof error.code === 'string' ? { code: error.code } : {}),
      ...(Array.isArray(error.issues) ? { issues: error.issues } : {}),
    };
  } catch {
    return null;
  }
}
