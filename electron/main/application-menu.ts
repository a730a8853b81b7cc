/**
 * The native application menu as a template, so the test can check its items and
 * accelerators without Electron; main.ts turns it into a Menu.
 */
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  /** File → Open VM Folder…: a native folder picker, then the folder is opened as a VM. */
  openVmFolder?: () => void;
}

export function applicationMenuTemplate(actions: MenuActions = {}): MenuItemConstructorOptions[] {
  const { openVmFolder } = actions;
  return [
    {
      label: '&File',
      submenu: [
        // No accelerator: Ctrl+O belongs to the guest while its display has the keyboard.
        ...(openVmFolder
          ? [
              { label: '&Open VM Folder…', click: () => openVmFolder() },
              { type: 'separator' as const },
            ]
          : []),
        { role: 'quit', label: 'Quit Nestbox', accelerator: 'CmdOrCtrl+Q' },
      ],
    },
    {
      label: '&View',
      submenu: [
        { role: 'reload', accelerator: 'CmdOrCtrl+R' },
        { role: 'toggleDevTools', accelerator: 'CmdOrCtrl+Shift+I' },
        { type: 'separator' },
        { role: 'resetZoom', accelerator: 'CmdOrCtrl+0' },
        { role: 'zoomIn', accelerator: 'CmdOrCtrl+Plus' },
        { role: 'zoomOut', accelerator: 'CmdOrCtrl+-' },
        { type: 'separator' },
        { role: 'togglefullscreen', accelerator: 'F11' },
      ],
    },
    {
      label: '&Help',
      submenu: [{ role: 'about', label: 'About Nestbox' }],
    },
  ];
}
