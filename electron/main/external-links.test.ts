import assert from 'node:assert/strict';
import { test } from 'node:test';
import { externalUrlToOpen } from './external-links.ts';

test('opens http and https links in the browser', () => {
  assert.equal(externalUrlToOpen('https://example.org/docs?a=1'), 'https://example.org/docs?a=1');
  assert.equal(externalUrlToOpen('http://example.org'), 'http://example.org/');
});

test('never hands other schemes to the desktop', () => {
  for (const url of [
    'file:///etc/passwd',
    'smb://server/share',
    'javascript:alert(1)',
    'app://nestbox/index.html',
    'vscode://file/etc/passwd',
    'mailto:someone@example.org',
    '',
    'not a url',
  ]) {
    assert.equal(externalUrlToOpen(url), null, url);
  }
});

test('refuses links that carry credentials', () => {
  assert.equal(externalUrlToOpen('https://user:pass@example.org/'), null);
});
