/**
 * Electron main process entry (bundled to dist/electron/main.cjs). Only lifecycle and wiring
 * live here; what the app does is in electron/services, shared with `nestbox serve`.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { app, BrowserWindow, dialog, Menu, session } from 'electron';
import { loadNativeAddon } from '../services/native/load-addon.ts';
import { applyQuitPolicy } from '../services/quit-policy.ts';
import {
  createAppServices,
  dispatchRequest,
  type AppServices,
} from '../services/request-handlers.ts';
import { SettingsStore, settingsFilePath } from '../services/settings/settings-store.ts';
import { openVmServices } from '../services/vm-host/vm-services.ts';
import { applicationMenuTemplate } from './application-menu.ts';
import { handleAppProtocol, registerAppScheme } from './app-protocol.ts';
import { wireIpc } from './ipc-wiring.ts';
import { createMainWindow, focusWindow, showRoute, type MainWindow } from './main-window.ts';
import {
  describeFailures,
  openVmFolders,
  vmFoldersInArgv,
  type OpenVmFoldersResult,
} from './open-vm-paths.ts';
import { denyAllPermissions, guardAllWebContents } from './web-contents-guards.ts';

// Before 'ready': scheme privileges and the sandbox are fixed when Chromium starts.
registerAppScheme();
app.enableSandbox();

let mainWindow: MainWindow | undefined;
let services: AppServices | undefined;

/** The window, when it is there to show things in. */
function liveWindow(): BrowserWindow | undefined {
  return mainWindow && !mainWindow.window.isDestroyed() ? mainWindow.window : undefined;
}

/** VM folders from the command line, a second launch or File → Open (open-vm-paths.ts). */
async function openFolders(folders: readonly string[]): Promise<OpenVmFoldersResult | null> {
  if (!services || folders.length === 0) return null;
  const { handlers } = services;
  return openVmFolders(folders, {
    importVm: (folder) => dispatchRequest(handlers, 'vms.import', { folder }),
    listVms: () => dispatchRequest(handlers, 'vms.list', undefined),
    realpath: (file) => realpath(file),
  });
}

/** Shows the last folder opened and says which could not be. */
async function showOpened(result: OpenVmFoldersResult | null): Promise<void> {
  const window = liveWindow();
  if (!result || !window) return;
  if (result.route) await showRoute(window, result.route);
  await reportFailures(result);
}

async function reportFailures(result: OpenVmFoldersResult): Promise<void> {
  const window = liveWindow();
  if (result.failures.length === 0 || !window) return;
  const { message, detail } = describeFailures(result.failures);
  await dialog.showMessageBox(window, { type: 'error', title: 'Nestbox', message, detail });
}

async function chooseVmFolder(): Promise<void> {
  const window = liveWindow();
  if (!window) return;
  const choice = await dialog.showOpenDialog(window, {
    title: 'Open a virtual machine',
    buttonLabel: 'Open',
    message: 'Choose a VM folder: the folder holding its vm.json.',
    properties: ['openDirectory'],
  });
  if (!choice.canceled) await showOpened(await openFolders(choice.filePaths));
}

function logFailure(what: string): (error: unknown) => void {
  return (error) => console.error(`nestbox: ${what}:`, error);
}

async function start(): Promise<void> {
  const appPath = app.getAppPath();
  guardAllWebContents();
  denyAllPermissions(session.defaultSession);
  handleAppProtocol(path.join(appPath, 'dist', 'renderer'));
  Menu.setApplicationMenu(
    Menu.buildFromTemplate(
      applicationMenuTemplate({
        openVmFolder: () => void chooseVmFolder().catch(logFailure('opening a VM folder')),
      }),
    ),
  );
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
  // VM folders on the command line (`nestbox ~/vms/web`, the file manager's Open With): imported
  // when needed before the window opens (a few small files), so it opens on the right VM.
  const opened = await openFolders(
    vmFoldersInArgv(process.argv, {
      defaultApp: process.defaultApp === true,
      workingDirectory: process.cwd(),
    }),
  ).catch((error: unknown) => {
    logFailure('opening the VM folders given')(error);
    return null;
  });
  mainWindow = await createMainWindow(
    path.join(appPath, 'dist', 'electron', 'preload.cjs'),
    opened?.route ?? null,
  );
  if (opened) void reportFailures(opened).catch(logFailure('reporting VM folders'));
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
const isFirstInstance = app.requestSingleInstanceLock();
/** The first instance's start; a second launch's folders wait for it. */
const started: Promise<void> = isFirstInstance ? app.whenReady().then(start) : Promise.resolve();
if (!isFirstInstance) {
  app.quit();
} else {
  // A second launch (maybe with VM folders, from a terminal or the file manager) comes here.
  app.on('second-instance', (_event, argv, workingDirectory) => {
    const window = liveWindow();
    if (window) focusWindow(window);
    const folders = vmFoldersInArgv(argv, {
      defaultApp: process.defaultApp === true,
      workingDirectory,
    });
    void started
      .then(() => openFolders(folders))
      .then(showOpened)
      .catch(logFailure('opening the VM folders given'));
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

  started.catch((error: unknown) => {
    console.error('nestbox: failed to start:', error);
    app.exit(1);
  });
}
