import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MenuItemConstructorOptions } from 'electron';
import { applicationMenuTemplate } from './application-menu.ts';

function submenu(label: string): MenuItemConstructorOptions[] {
  const menu = applicationMenuTemplate().find((item) => item.label === label);
  assert.ok(menu && Array.isArray(menu.submenu), `${label} menu`);
  return menu.submenu;
}

function accelerators(items: MenuItemConstructorOptions[]): Record<string, string | undefined> {
  return Object.fromEntries(
    items.filter((item) => item.role).map((item) => [item.role, item.accelerator]),
  );
}

test('has File, View and Help menus in that order', () => {
  assert.deepEqual(
    applicationMenuTemplate().map((item) => item.label),
    ['&File', '&View', '&Help'],
  );
});

test('File → Quit with Ctrl+Q', () => {
  assert.deepEqual(accelerators(submenu('&File')), { quit: 'CmdOrCtrl+Q' });
});

test('File → Open VM Folder… when the app can open folders, before Quit', () => {
  let opened = 0;
  const file = applicationMenuTemplate({ openVmFolder: () => (opened += 1) }).find(
    (item) => item.label === '&File',
  );
  assert.ok(file && Array.isArray(file.submenu));
  assert.deepEqual(
    file.submenu.map((item) => item.label ?? item.type),
    ['&Open VM Folder…', 'separator', 'Quit Nestbox'],
  );
  const open = file.submenu[0];
  assert.equal(open?.accelerator, undefined, 'Ctrl+O is left to the guest');
  (open?.click as () => void)();
  assert.equal(opened, 1);
  assert.deepEqual(
    submenu('&File').map((item) => item.role),
    ['quit'],
    'without the action, no item that does nothing',
  );
});

test('View has reload, DevTools, zoom and full screen with their usual keys', () => {
  assert.deepEqual(accelerators(submenu('&View')), {
    reload: 'CmdOrCtrl+R',
    toggleDevTools: 'CmdOrCtrl+Shift+I',
    resetZoom: 'CmdOrCtrl+0',
    zoomIn: 'CmdOrCtrl+Plus',
    zoomOut: 'CmdOrCtrl+-',
    togglefullscreen: 'F11',
  });
});

test('Help → About', () => {
  assert.deepEqual(
    submenu('&Help').map((item) => item.role),
    ['about'],
  );
});
