/**
 * Registers one `ipcMain.handle` per contract channel, dispatching through the same request
 * table as `nestbox serve`. Every message's sender is checked first; untrusted ones are
 * refused and logged, and never reach a service.
 */
import { ipcMain, type BrowserWindow } from 'electron';
import { requestChannels } from '../common/contract.ts';
import { toWireError } from '../services/request-error.ts';
import { dispatchRequest, type RequestHandlers } from '../services/request-handlers.ts';
import { checkSender } from './sender-validation.ts';

export function wireIpc(handlers: RequestHandlers, windows: () => readonly BrowserWindow[]): void {
  for (const channel of requestChannels) {
    ipcMain.handle(channel, async (event, payload: unknown) => {
      const verdict = checkSender(
        event.senderFrame,
        windows().map((window) => window.webContents.mainFrame),
      );
      if (!verdict.trusted) {
        console.warn(`nestbox: refused IPC "${channel}" from ${verdict.reason}`);
        throw new Error('Request refused');
      }
      try {
        return await dispatchRequest(handlers, channel, payload);
      } catch (error) {
        const wire = toWireError(error);
        if (wire.status >= 500) console.error(`nestbox: IPC "${channel}" failed:`, error);
        // Electron passes only the message across; keep the code readable in it.
        throw new Error(`${wire.body.error.code ?? 'internal'}: ${wire.body.error.message}`, {
          cause: error,
        });
      }
    });
  }
}
