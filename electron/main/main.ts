/**
 * Electron main process entry (bundled to dist/electron/main.cjs). Only lifecycle and wiring
 * live here; what the app does is in electron/services, shared with `nestbox serve`.
 */
import path from 'node:path';
import { app, Menu, session } from 'electron';
import { loadNativeAddon } from '../services/native/load-addon.ts';
import { applyQuitPolicy } from '../services/quit-policy.ts';
import { createAppServices, type AppServices } from '../services/request-handlers.ts';
import { SettingsStore, settingsFilePath } from '../services/settings/settings-store.ts';
import { openVmServices } from '../services/vm-host/vm-services.ts';
import { applicationMenuTemplate } from './application-menu.ts';
import { handleAppProtocol, registerAppScheme } from './app-protocol.ts';
import { wireIpc } from './ipc-wiring.ts';
import { createMainWindow, focusWindow, type MainWindow } from './main-window.ts';
import { denyAllPermissions, guardAllWebContents } from './web-contents-guards.ts';

// Before 'ready': scheme privileges and the sandbox are fixed when Chromium starts.
registerAppScheme();
app.enableSandbox();

let mainWindow: MainWindow | undefined;
let services: AppServices | undefined;

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

  services = createAppServices({ appVersion: app.getVersion(), loadNativeAddon });
  wireIpc(
    services.handlers,
    () => (mainWindow && !mainWindow.window.isDestroyed() ? [mainWindow.window] : []),
    services.subscriptions,
  );
  mainWindow = await createMainWindow(path.join(appPath, 'dist', 'electron', 'preload.cjs'));
}

async function prepareToQuit(): Promise<void> {
  try {
    const settings = new SettingsStore({ filePath: settingsFilePath() });
    await settings.load();
    const action = settings.current().onQuitWithRunningVms;
    if (action !== 'keep-running') {
      const outcomes = await applyQuitPolicy(action, await openVmServices());
      for (const outcome of outcomes.filter((o) => o.problem)) {
        console.error(`nestbox: "${outcome.name}" was left running: ${outcome.problem}`);
      }
    }
  } catch (error) {
    console.error('nestbox: running VMs were left running:', error);
  }
  services?.close();
  await mainWindow?.stateTracker.flush();
}

// One Nestbox per user session: VMs and their state have one owner.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow && !mainWindow.window.isDestroyed()) focusWindow(mainWindow.window);
  });
  app.on('window-all-closed', () => app.quit());

  // Before the process exits: running VMs get what the preference says (they keep running by
  // default; a VM whose suspend or power-off fails is left running, never lost), and the last
  // window-state write reaches the disk.
  let quitting = false;
  app.on('will-quit', (event) => {
    if (quitting) return;
    event.preventDefault();
    quitting = true;
    void prepareToQuit().finally(() => app.quit());
  });

  app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      console.error('nestbox: failed to start:', error);
      app.exit(1);
    });
}
