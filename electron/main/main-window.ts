/** Creates the main window: restored geometry, hardened options, our app:// renderer. */
import path from 'node:path';
import { app, BrowserWindow, screen } from 'electron';
import { appEntryUrl } from './app-origin.ts';
import { mainWindowOptions } from './window-options.ts';
import { loadWindowState } from './window-state.ts';
import { WindowStateTracker } from './window-state-tracker.ts';

export interface MainWindow {
  window: BrowserWindow;
  stateTracker: WindowStateTracker;
}

/** `route`: a hash route to open on (`#/vms/<id>`), e.g. a VM folder given on the command line. */
export async function createMainWindow(
  preloadPath: string,
  route: string | null = null,
): Promise<MainWindow> {
  const stateFile = path.join(app.getPath('userData'), 'window-state.json');
  const state = await loadWindowState(
    stateFile,
    screen.getAllDisplays().map((display) => display.workArea),
  );
  const window = new BrowserWindow(mainWindowOptions({ preloadPath, bounds: state.bounds }));
  const stateTracker = new WindowStateTracker(window, stateFile);

  window.once('ready-to-show', () => {
    if (state.maximized) window.maximize();
    window.show();
  });
  try {
    await window.loadURL(`${appEntryUrl}${route ?? ''}`);
  } catch (error) {
    // e.g. a broken install without dist/renderer: show the window (and DevTools' error)
    // rather than a process with no window at all.
    console.error(`nestbox: could not load ${appEntryUrl}:`, error);
    if (!window.isVisible()) window.show();
  }
  return { window, stateTracker };
}

/**
 * Shows a hash route (`#/vms/<id>`) in the running window: a change of the URL's fragment
 * only, which the renderer's hash routing follows without reloading.
 */
export async function showRoute(window: BrowserWindow, route: string): Promise<void> {
  await window.loadURL(`${appEntryUrl}${route}`);
}

/** What a second `nestbox` launch does: bring the existing window to the front. */
export function focusWindow(window: BrowserWindow): void {
  if (window.isMinimized()) window.restore();
  if (!window.isVisible()) window.show();
  window.focus();
}
