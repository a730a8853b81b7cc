/**
 * Locks down every web page the app creates: no navigation away from the app, no new windows,
 * no <webview>, no permissions. http(s) links go to the user's browser instead.
 */
import { app, shell, type Session, type WebContents } from 'electron';
import { externalUrlToOpen } from './external-links.ts';

function openExternally(url: string): void {
  const target = externalUrlToOpen(url);
  if (target === null) {
    console.warn(`nestbox: blocked a link to ${url}`);
    return;
  }
  shell.openExternal(target).catch((error: unknown) => {
    console.warn(`nestbox: could not open ${target}:`, error);
  });
}

function guardWebContents(contents: WebContents): void {
  // The renderer is a single page: any navigation is either a link the user clicked (hand it
  // to the browser) or something trying to replace our code.
  contents.on('will-navigate', (event) => {
    event.preventDefault();
    openExternally(event.url);
  });
  contents.on('will-frame-navigate', (event) => {
    if (!event.isMainFrame) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    event.preventDefault();
  });
  contents.setWindowOpenHandler(({ url }) => {
    openExternally(url);
    return { action: 'deny' };
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
  });
}

/** Nestbox needs no camera, microphone, notifications, geolocation, USB or HID from pages. */
export function denyAllPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
}

/** Call before any window exists, so no WebContents is ever unguarded. */
export function guardAllWebContents(): void {
  app.on('web-contents-created', (_event, contents) => guardWebContents(contents));
}
