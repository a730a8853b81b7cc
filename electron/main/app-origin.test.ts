import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appEntryUrl, appSchemePrivileges, isAppUrl } from './app-origin.ts';

test('the app scheme is a secure standard scheme that does not bypass CSP', () => {
  assert.equal(appSchemePrivileges.scheme, 'app');
  assert.equal(appSchemePrivileges.privileges?.standard, true);
  assert.equal(appSchemePrivileges.privileges?.secure, true);
  assert.notEqual(appSchemePrivileges.privileges?.bypassCSP, true);
  assert.notEqual(appSchemePrivileges.privileges?.allowServiceWorkers, true);
});

test('recognises only our own origin', () => {
  assert.equal(isAppUrl(appEntryUrl), true);
  assert.equal(isAppUrl('app://nestbox/assets/index-abc.js'), true);
  assert.equal(isAppUrl('app://nestbox.evil/index.html'), false);
  assert.equal(isAppUrl('https://nestbox/index.html'), false);
  assert.equal(isAppUrl('file:///index.html'), false);
});
