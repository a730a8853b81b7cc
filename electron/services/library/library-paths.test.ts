import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { defaultLibraryRoot, resolveLibraryRoot } from './library-paths.ts';

test('XDG_DATA_HOME, else ~/.local/share', () => {
  assert.equal(
    defaultLibraryRoot({ XDG_DATA_HOME: '/data', HOME: '/home/u' }),
    '/data/nestbox/vms',
  );
  assert.equal(defaultLibraryRoot({ HOME: '/home/u' }), '/home/u/.local/share/nestbox/vms');
  // The XDG spec says relative values are ignored.
  assert.equal(
    defaultLibraryRoot({ XDG_DATA_HOME: 'data', HOME: '/home/u' }),
    '/home/u/.local/share/nestbox/vms',
  );
});

test('NESTBOX_HOME holds the library in vms/', () => {
  assert.equal(
    defaultLibraryRoot({ NESTBOX_HOME: '/sandbox', XDG_DATA_HOME: '/data', HOME: '/home/u' }),
    '/sandbox/vms',
  );
  assert.equal(defaultLibraryRoot({ NESTBOX_HOME: 'rel' }), path.resolve('rel', 'vms'));
});

test('the vmFolder setting wins', () => {
  assert.equal(resolveLibraryRoot({ NESTBOX_HOME: '/sandbox' }, '/mnt/vms'), '/mnt/vms');
  assert.equal(resolveLibraryRoot({ NESTBOX_HOME: '/sandbox' }, null), '/sandbox/vms');
});
