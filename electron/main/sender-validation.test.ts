import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSender, type FrameLike } from './sender-validation.ts';

function mainFrame(url: string): FrameLike {
  return { url, parent: null };
}

const ours = mainFrame('app://nestbox/index.html');

test('trusts the main frame of our window showing app://nestbox', () => {
  assert.deepEqual(checkSender(ours, [ours]), { trusted: true });
});

test('refuses a sub-frame, even one at our own origin', () => {
  const child: FrameLike = { url: 'app://nestbox/index.html', parent: ours };
  const verdict = checkSender(child, [ours]);
  assert.equal(verdict.trusted, false);
  assert.match(!verdict.trusted ? verdict.reason : '', /sub-frame/);
});

test('refuses our window after it navigated to a foreign origin', () => {
  for (const url of [
    'https://evil.example/',
    'http://127.0.0.1:8080/',
    'app://other-host/index.html',
    'file:///home/user/nestbox/dist/renderer/index.html',
    'not a url',
  ]) {
    const frame = mainFrame(url);
    const verdict = checkSender(frame, [frame]);
    assert.equal(verdict.trusted, false, url);
    assert.match(!verdict.trusted ? verdict.reason : '', /foreign page/, url);
  }
});

test('refuses the main frame of a window that is not ours', () => {
  const stranger = mainFrame('app://nestbox/index.html');
  const verdict = checkSender(stranger, [ours]);
  assert.equal(verdict.trusted, false);
  assert.match(!verdict.trusted ? verdict.reason : '', /unknown window/);
});

test('refuses a frame that no longer exists', () => {
  assert.equal(checkSender(null, [ours]).trusted, false);
  assert.equal(checkSender(undefined, [ours]).trusted, false);
});
