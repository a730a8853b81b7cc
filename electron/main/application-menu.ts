/**
 * The native application menu as a template, so the test can check its items and
 * accelerators without Electron; main.ts turns it into a Menu.
 */
import type { MenuItemConstructorOptions } from 'electron';

export function applicationMenuTemplate(): MenuItemConstructorOptions[] {
  return [
    {
      label: '&File',
      submenu: [{ role: 'quit', label: 'Quit Nestbox', accelerator: 'CmdOrCtrl+Q' }],
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
