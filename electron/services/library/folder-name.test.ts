import assert from 'node:assert/strict';
import { test } from 'node:test';
import { folderNameFor, numberedFolderName } from './folder-name.ts';

test('keeps readable names and replaces what is unsafe', () => {
  assert.equal(folderNameFor('Alpine 3.20'), 'Alpine 3.20');
  assert.equal(folderNameFor('Ubuntu 24.04 / dev'), 'Ubuntu 24.04 - dev');
  assert.equal(folderNameFor('a/b\\c:d*e?"f"<g>|h'), 'a-b-c-d-e-f-g-h');
  assert.equal(folderNameFor('Débian – test'), 'Débian - test');
  assert.equal(folderNameFor('日本語 VM'), '日本語 VM');
  assert.equal(folderNameFor('tabs\tand\nnewlines'), 'tabs-and-newlines');
  assert.equal(folderNameFor('$(rm -rf ~)'), '(rm -rf -)');
});

test('never hidden, never an option, never empty', () => {
  assert.equal(folderNameFor('.hidden'), 'hidden');
  assert.equal(folderNameFor('..'), 'VM');
  assert.equal(folderNameFor('--help'), 'help');
  assert.equal(folderNameFor('   '), 'VM');
  assert.equal(folderNameFor('///'), 'VM');
  assert.equal(folderNameFor('name.'), 'name');
});

test('long names are cut on a character boundary within the byte limit', () => {
  const name = folderNameFor('é'.repeat(200));
  assert.ok(Buffer.byteLength(name) <= 120);
  assert.equal(name, 'é'.repeat(60));
});

test('numbered variants for taken names', () => {
  assert.equal(numberedFolderName('Alpine', 1), 'Alpine');
  assert.equal(numberedFolderName('Alpine', 2), 'Alpine (2)');
});
