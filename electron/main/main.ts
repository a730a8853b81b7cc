/**
 * Electron main process entry (bundled to dist/electron/main.cjs). Only lifecycle and wiring
 * live here; what the app does is in electron/services, shared with `nestbox serve`.
 */
import path from 'node:path';
import { app, Menu, session } from 'electron';
import { loadNativeAddon } from '../services/native/load-addon.ts';
import { createRequestHandlers } from '../services/request-handlers.ts';
import { applicationMenuTemplate } from './application-menu.ts';
import { handleAppProtocol, registerAppScheme } from './app-protocol.ts';
import { wireIpc } from './ipc-wiring.ts';
import { createMainWindow, focusWindow, type MainWindow } from './main-window.ts';
import { denyAllPermissions, guardAllWebContents } from './web-contents-guards.ts';

// Before 'ready': scheme privileges and the sandbox are fixed when Chromium starts.
registerAppScheme();
app.enableSandbox();

let mainWindow: MainWindow | undefined;

async function start(): Promise<void> {
  const appPath = app.getAppPath();
  guardAllWebContents();
  denyAllPermissions(session.defaultSession);
  handleAppProtocol(path.join(appPath, 'dist', 'renderer'));
  Menu.setApplicationMenu(Menu.buildFromTemplate(applicationMenuTemplate()));
  app.setAboutPanelOptions({
    applicationName: 'Nestbox',
    applicationVersion: app.getVersion(),
    copyright: 'Nestbox developers, MIT licence',
    website: 'https://nestbox.invalid',
  });

  wireIpc(createRequestHandlers({ appVersion: app.getVersion(), loadNativeAddon }), () =>
    mainWindow && !mainWindow.window.isDestroyed() ? [mainWindow.window] : [],
  );
  mainWindow = await createMainWindow(path.join(appPath, 'dist', 'electron', 'preload.cjs'));
}

// One Nestbox per user session: VMs and their state have one owner.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow && !mainWindow.window.isDestroyed()) focusWindow(mainWindow.window);
  });
  app.on('window-all-closed', () => app.quit());

  // Let the last window-state write reach the disk before the process exits.
  let flushed = false;
  app.on('will-quit', (event) => {
    if (flushed || !mainWindow) return;
    event.preventDefault();
    flushed = true;
    void mainWindow.stateTracker.flush().finally(() => app.quit());
  });

  app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      console.error('nestbox: failed to start:', error);
      app.exit(1);
    });
}
