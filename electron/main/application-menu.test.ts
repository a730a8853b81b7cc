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
