import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LibraryEntry, LibraryListing } from '../library/vm-library.ts';
import { findVm } from './vm-services.ts';

function vm(id: string, name: string): LibraryEntry {
  return {
    status: 'ok',
    id,
    folder: `/lib/${name}`,
    imported: false,
    config: { name } as never,
  };
}

const listing: LibraryListing = {
  root: '/lib',
  entries: [
    vm('3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f', 'Alpine'),
    vm('3f2b0000-5d4a-4c1b-9e0f-1a2b3c4d5e6f', 'alpine'),
    vm('aaaa1111-5d4a-4c1b-9e0f-1a2b3c4d5e6f', 'Debian'),
    vm('bbbb2222-5d4a-4c1b-9e0f-1a2b3c4d5e6f', 'Twin'),
    vm('cccc3333-5d4a-4c1b-9e0f-1a2b3c4d5e6f', 'Twin'),
    {
      status: 'broken',
      folder: '/lib/Old VM',
      imported: false,
      problem: { code: 'invalid-json', message: '/lib/Old VM/vm.json is not valid JSON' },
    },
  ],
};

test('a VM is found by id, exact name, name in any case, or an id prefix', () => {
  const id = (nameOrId: string) => findVm(listing, nameOrId).id;
  assert.equal(id('AAAA1111-5D4A-4C1B-9E0F-1A2B3C4D5E6F'), 'aaaa1111-5d4a-4c1b-9e0f-1a2b3c4d5e6f');
  assert.equal(id('Alpine'), '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f');
  assert.equal(id('alpine'), '3f2b0000-5d4a-4c1b-9e0f-1a2b3c4d5e6f');
  assert.equal(id('debian'), 'aaaa1111-5d4a-4c1b-9e0f-1a2b3c4d5e6f');
  assert.equal(id('aaaa'), 'aaaa1111-5d4a-4c1b-9e0f-1a2b3c4d5e6f');
});

test('an ambiguous, unknown or broken VM is an error that says which', () => {
  assert.throws(() => findVm(listing, 'Twin'), {
    name: 'VmLookupError',
    code: 'ambiguous',
    message: /"Twin" fits 2 VMs; use an id:\n {2}bbbb2222-.*Twin/,
  });
  assert.throws(() => findVm(listing, '3f2b'), { code: 'ambiguous' });
  assert.throws(() => findVm(listing, 'aaa'), { code: 'not-found' }); // too short for a prefix
  assert.throws(() => findVm(listing, 'Nope'), {
    code: 'not-found',
    message: 'there is no VM named "Nope" in /lib (`nestbox list` shows them)',
  });
  assert.throws(
    () => findVm(listing, 'Old VM'),
    (error: unknown) =>
      error instanceof Error &&
      'code' in error &&
      error.code === 'broken' &&
      error.message === '/lib/Old VM/vm.json is not valid JSON',
  );
});
