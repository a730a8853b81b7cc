import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { atomicWriteFile } from '../atomic-write-file.ts';
import { LibraryError, type LibraryErrorCode } from './library-error.ts';
import { toMachineConfig } from './machine-config.ts';
import { makeTempDir, sampleConfig } from './test-fixtures.ts';
import { serializeVmConfig, validateVmConfig, type VmConfig } from './vm-config.ts';
import {
  VmLibrary,
  type CreateVmSpec,
  type LibraryEntry,
  type LibraryVm,
  type VmLibraryOptions,
} from './vm-library.ts';

const { dir, cleanup } = await makeTempDir('library');
after(cleanup);

let counter = 0;
/** A fresh library root (not yet created) and a library on it; trash goes to PATH-less .trash. */
function freshLibrary(options: Partial<VmLibraryOptions> = {}) {
  counter += 1;
  const base = path.join(dir, `case-${counter}`);
  const root = path.join(base, 'vms');
  const library = new VmLibrary({ root, env: { PATH: '' }, ...options });
  return { base, root, library };
}

const kernelSpec: CreateVmSpec['boot'] = {
  kind: 'kernel',
  kernel: '/boot/vmlinuz',
  cmdline: 'console=ttyS0',
};

async function expectLibraryError(
  promise: Promise<unknown>,
  code: LibraryErrorCode,
  message?: RegExp,
): Promise<LibraryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LibraryError, `expected a LibraryError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected LibraryError ${code}`);
}

function okEntries(entries: LibraryEntry[]): LibraryVm[] {
  return entries.flatMap((entry) => (entry.status === 'ok' ? [entry] : []));
}

function brokenEntry(entries: LibraryEntry[], folderName: string) {
  const entry = entries.find((candidate) => path.basename(candidate.folder) === folderName);
  assert.ok(entry, `no entry for ${folderName}`);
  assert.equal(entry.status, 'broken', `${folderName} should be broken`);
  if (entry.status !== 'broken') throw new Error('unreachable');
  return entry;
}

/** Writes a VM folder by hand, as a user or another tool would. */
async function writeVmFolder(folder: string, content: string | VmConfig): Promise<void> {
  await mkdir(folder, { recursive: true });
  const text = typeof content === 'string' ? content : serializeVmConfig(content);
  await writeFile(path.join(folder, 'vm.json'), text);
}

function configWithId(id: string, name: string): VmConfig {
  return sampleConfig({ id, name });
}

const ids = {
  a: '11111111-1111-4111-8111-111111111111',
  b: '22222222-2222-4222-8222-222222222222',
  c: '33333333-3333-4333-8333-333333333333',
};

describe('create', () => {
  test('makes a folder named after the VM with a valid, versioned vm.json', async () => {
    const { root, library } = freshLibrary({ now: () => new Date('2025-03-04T05:06:07.000Z') });
    const vm = await library.create({ name: '  Alpine Linux  ', boot: kernelSpec });
    assert.equal(vm.folder, path.join(root, 'Alpine Linux'));
    assert.equal(vm.imported, false);
    const onDisk = JSON.parse(await readFile(path.join(vm.folder, 'vm.json'), 'utf8'));
    assert.equal(onDisk.schemaVersion, 1);
    assert.deepEqual(validateVmConfig(onDisk), { ok: true, value: vm.config });
    assert.equal(vm.config.name, 'Alpine Linux');
    assert.match(
      vm.config.id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.match(vm.config.hardware.network.macAddress, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    assert.equal(vm.config.createdAt, '2025-03-04T05:06:07.000Z');
    assert.deepEqual(vm.config.hardware, {
      cpus: 1,
      memoryMiB: 1024,
      disks: [],
      network: { mode: 'nat', macAddress: vm.config.hardware.network.macAddress, portForwards: [] },
      display: { width: 1024, height: 768, vramMiB: 16 },
      serial: true,
    });
    // No temp files are left behind.
    assert.deepEqual(await readdir(vm.folder), ['vm.json']);
  });

  test('the same name twice gives a second folder; id and MAC stay the same on reading', async () => {
    const { root, library } = freshLibrary();
    const first = await library.create({ name: 'Alpine', boot: kernelSpec });
    const second = await library.create({ name: 'Alpine', boot: kernelSpec });
    assert.equal(second.folder, path.join(root, 'Alpine (2)'));
    assert.notEqual(first.config.id, second.config.id);
    assert.notEqual(
      first.config.hardware.network.macAddress,
      second.config.hardware.network.macAddress,
    );
    const listing = await library.list();
    assert.deepEqual(
      okEntries(listing.entries).map((vm) => [vm.id, vm.config.hardware.network.macAddress]),
      [first, second].map((vm) => [vm.id, vm.config.hardware.network.macAddress]),
    );
  });

  test('an unsafe name gives a safe folder; a folder of that name is never reused', async () => {
    const { root, library } = freshLibrary();
    await mkdir(path.join(root, 'etc-passwd'), { recursive: true });
    await writeFile(path.join(root, 'etc-passwd', 'mine.txt'), 'user data');
    const vm = await library.create({ name: '../etc/passwd', boot: kernelSpec });
    assert.equal(vm.folder, path.join(root, 'etc-passwd (2)'));
    assert.equal(await readFile(path.join(root, 'etc-passwd', 'mine.txt'), 'utf8'), 'user data');
  });

  test('a new disk is made through the injected function and listed first', async () => {
    const calls: [string, unknown][] = [];
    const { library } = freshLibrary({
      createDiskImage: async (file, options) => {
        calls.push([file, options]);
        await writeFile(file, 'QFI\xfb');
      },
    });
    const vm = await library.create({
      name: 'With disk',
      boot: kernelSpec,
      hardware: { disks: [{ file: '/srv/data.raw', format: 'raw', readOnly: true }] },
      newDisk: { sizeBytes: 8 * 1024 ** 3 },
    });
    assert.deepEqual(calls, [
      [path.join(vm.folder, 'disk.qcow2'), { format: 'qcow2', size: 8 * 1024 ** 3 }],
    ]);
    assert.deepEqual(vm.config.hardware.disks, [
      { file: 'disk.qcow2', format: 'qcow2' },
      { file: '/srv/data.raw', format: 'raw', readOnly: true },
    ]);
  });

  test('a failed disk creation leaves nothing behind', async () => {
    const { root, library } = freshLibrary({
      createDiskImage: async (file) => {
        await writeFile(file, 'half');
        throw new Error('No space left on device');
      },
    });
    await expectLibraryError(
      library.create({ name: 'Doomed', boot: kernelSpec, newDisk: { sizeBytes: 1024 ** 3 } }),
      'disk-create-failed',
      /No space left on device/,
    );
    assert.deepEqual(await readdir(root), []);
  });

  test('a failed vm.json write leaves nothing behind', async () => {
    const { root, library } = freshLibrary({
      createDiskImage: async (file) => writeFile(file, 'disk'),
      writeFileAtomic: crashAfterTempWrite,
    });
    await assert.rejects(
      library.create({ name: 'Doomed', boot: kernelSpec, newDisk: { sizeBytes: 1024 ** 3 } }),
      /simulated crash/,
    );
    assert.deepEqual(await readdir(root), []);
  });

  test('a new disk without the native core is refused up front', async () => {
    const { root, library } = freshLibrary();
    await expectLibraryError(
      library.create({ name: 'x', boot: kernelSpec, newDisk: { sizeBytes: 1024 ** 3 } }),
      'disk-create-failed',
      /native core/,
    );
    await assert.rejects(stat(root), { code: 'ENOENT' });
  });

  test('an invalid spec is refused with every field path, and nothing is made', async () => {
    const { root, library } = freshLibrary();
    const error = await expectLibraryError(
      library.create({
        name: '',
        boot: { kind: 'kernel', kernel: '', cmdline: '' },
        hardware: { memoryMiB: 16, network: { portForwards: [{ hostPort: 0, guestPort: 22 }] } },
      }),
      'invalid-request',
    );
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      ['name', 'hardware.memoryMiB', 'hardware.network.portForwards[0].hostPort', 'boot.kernel'],
    );
    await expectLibraryError(
      library.create({ name: 'x', boot: kernelSpec, newDisk: { sizeBytes: 10 } }),
      'invalid-request',
      /newDisk\.sizeBytes: must be from 1048576/,
    );
    await expectLibraryError(
      library.create({ name: 'x', boot: kernelSpec, extra: 1 } as unknown as CreateVmSpec),
      'invalid-request',
      /extra: unknown field/,
    );
    await assert.rejects(stat(root), { code: 'ENOENT' });
  });
});

describe('list', () => {
  test('a library folder that does not exist yet is an empty library', async () => {
    const { root, library } = freshLibrary();
    assert.deepEqual(await library.list(), { root, entries: [] });
  });

  test('broken, missing and foreign folders are reported; the good VMs still load', async () => {
    const { root, library } = freshLibrary();
    await writeVmFolder(path.join(root, 'Good A'), configWithId(ids.a, 'Good A'));
    await writeVmFolder(path.join(root, 'Good B'), configWithId(ids.b, 'Good B'));
    const badJson = '{\n  "schemaVersion": 1,\n  "name": "x",\n}\n';
    await writeVmFolder(path.join(root, 'Bad JSON'), badJson);
    const badSchema = serializeVmConfig(configWithId(ids.c, 'Bad schema')).replace(
      '"memoryMiB": 1024',
      '"memoryMiB": "lots"',
    );
    await writeVmFolder(path.join(root, 'Bad schema'), badSchema);
    await writeVmFolder(
      path.join(root, 'Newer'),
      JSON.stringify({ schemaVersion: 2, id: ids.c, hologram: true }),
    );
    await mkdir(path.join(root, 'Not UTF-8'));
    await writeFile(path.join(root, 'Not UTF-8', 'vm.json'), Buffer.from([0x7b, 0xff, 0x7d]));
    await mkdir(path.join(root, 'Photos'));
    await writeFile(path.join(root, 'Photos', 'cat.jpg'), 'meow');
    await mkdir(path.join(root, 'Folder config', 'vm.json'), { recursive: true });
    await cp(path.join(root, 'Good A'), path.join(root, 'Good A copy'), { recursive: true });
    // Not VM folders: files in the root and hidden folders (the library's own .trash).
    await writeFile(path.join(root, 'notes.txt'), 'hello');
    await mkdir(path.join(root, '.trash', 'old'), { recursive: true });

    const listing = await library.list();
    assert.deepEqual(
      okEntries(listing.entries).map((vm) => vm.config.name),
      ['Good A', 'Good B'],
    );
    assert.equal(listing.entries.length, 9);

    const json = brokenEntry(listing.entries, 'Bad JSON').problem;
    assert.equal(json.code, 'invalid-json');
    assert.deepEqual([json.line, json.column], [4, 1]);
    assert.match(
      json.message,
      /Bad JSON\/vm\.json is not valid JSON: line 4, column 1: trailing comma/,
    );

    const schema = brokenEntry(listing.entries, 'Bad schema').problem;
    assert.equal(schema.code, 'invalid-config');
    assert.deepEqual(schema.issues, [
      {
        path: 'hardware.memoryMiB',
        message: 'must be a whole number from 64 to 1048576 MiB, not "lots"',
      },
    ]);
    assert.match(schema.message, /has 1 problem:\nhardware\.memoryMiB: must be/);

    assert.equal(brokenEntry(listing.entries, 'Newer').problem.code, 'unsupported-version');
    assert.match(
      brokenEntry(listing.entries, 'Newer').problem.message,
      /schema version 2, from a newer Nestbox/,
    );
    assert.equal(brokenEntry(listing.entries, 'Not UTF-8').problem.code, 'invalid-json');
    const foreign = brokenEntry(listing.entries, 'Photos').problem;
    assert.equal(foreign.code, 'missing-config');
    assert.match(foreign.message, /has no vm\.json, so it is not a Nestbox VM/);
    assert.equal(brokenEntry(listing.entries, 'Folder config').problem.code, 'unreadable');
    const copy = brokenEntry(listing.entries, 'Good A copy').problem;
    assert.equal(copy.code, 'duplicate-id');
    assert.match(copy.message, /same id .* as .*Good A, so it is a copy/);
  });

  test('a broken vm.json is never rewritten: not by listing, not by a refused change', async () => {
    const { root, library } = freshLibrary();
    const broken = serializeVmConfig(configWithId(ids.a, 'Broken')).replace(
      '"cpus": 2',
      '"cpus": 0',
    );
    await writeVmFolder(path.join(root, 'Broken'), broken);
    const file = path.join(root, 'Broken', 'vm.json');
    const before = await stat(file);
    await library.list();
    await library.list();
    await expectLibraryError(library.update(ids.a, { notes: 'x' }), 'not-found');
    await expectLibraryError(library.rename(ids.a, 'Fixed?'), 'not-found');
    assert.equal(await readFile(file, 'utf8'), broken);
    assert.deepEqual(await readdir(path.join(root, 'Broken')), ['vm.json']);
    assert.equal((await stat(file)).mtimeMs, before.mtimeMs);
  });

  test('a VM that breaks after it was listed is refused with the reason', async () => {
    const { root, library } = freshLibrary();
    const vm = await library.create({ name: 'Soon broken', boot: kernelSpec });
    await library.list();
    const broken = '{ "schemaVersion": 1, oops }';
    await writeFile(path.join(vm.folder, 'vm.json'), broken);
    await expectLibraryError(
      library.update(vm.id, { notes: 'x' }),
      'broken-vm',
      /line 1, column 23: expected a field name in double quotes/,
    );
    assert.equal(await readFile(path.join(root, 'Soon broken', 'vm.json'), 'utf8'), broken);
  });
});

describe('rename and update', () => {
  test('rename changes the name in vm.json; the folder and id stay', async () => {
    const { library } = freshLibrary();
    const vm = await library.create({ name: 'Old', boot: kernelSpec });
    const renamed = await library.rename(vm.id, ' New name ');
    assert.equal(renamed.config.name, 'New name');
    assert.equal(renamed.folder, vm.folder);
    assert.equal(renamed.id, vm.id);
    assert.equal((await library.get(vm.id)).config.name, 'New name');
    await expectLibraryError(
      library.rename(vm.id, ''),
      'invalid-request',
      /^.*\nname: must not be empty$/,
    );
    await expectLibraryError(
      library.rename('44444444-4444-4444-8444-444444444444', 'x'),
      'not-found',
    );
  });

  test('update patches hardware and notes; a bad patch writes nothing', async () => {
    const { library } = freshLibrary();
    const vm = await library.create({ name: 'VM', boot: kernelSpec });
    const updated = await library.update(vm.id, {
      notes: 'build box',
      hardware: {
        cpus: 4,
        memoryMiB: 4096,
        network: { portForwards: [{ hostPort: 2222, guestPort: 22 }] },
      },
    });
    assert.equal(updated.config.hardware.cpus, 4);
    assert.equal(updated.config.hardware.network.macAddress, vm.config.hardware.network.macAddress);
    assert.deepEqual(updated.config.hardware.network.portForwards, [
      { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
    ]);
    const file = path.join(vm.folder, 'vm.json');
    const text = await readFile(file, 'utf8');
    assert.deepEqual(JSON.parse(text).notes, 'build box');
    const error = await expectLibraryError(
      library.update(vm.id, { hardware: { memoryMiB: 1 }, id: 'x' } as never),
      'invalid-request',
    );
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      ['id'],
    );
    await expectLibraryError(
      library.update(vm.id, { hardware: { memoryMiB: 1 } }),
      'invalid-request',
      /hardware\.memoryMiB: must be from 64/,
    );
    assert.equal(await readFile(file, 'utf8'), text);
  });

  test('hardware changes are refused while the VM runs; notes and name are not', async () => {
    const running = new Set<string>();
    const { library } = freshLibrary({ isRunning: (id) => running.has(id) });
    const vm = await library.create({ name: 'Busy', boot: kernelSpec });
    running.add(vm.id);
    await expectLibraryError(
      library.update(vm.id, { hardware: { memoryMiB: 2048, cpus: 2 } }),
      'vm-running',
      /"Busy" is running\. Power it off to change hardware\.cpus, hardware\.memoryMiB\./,
    );
    await expectLibraryError(
      library.update(vm.id, { boot: { ...kernelSpec, cmdline: 'quiet' } }),
      'vm-running',
    );
    const noted = await library.update(vm.id, { notes: 'still running', name: 'Busy box' });
    assert.equal(noted.config.notes, 'still running');
    assert.equal(noted.config.hardware.memoryMiB, 1024);
    running.clear();
    assert.equal(
      (await library.update(vm.id, { hardware: { memoryMiB: 2048 } })).config.hardware.memoryMiB,
      2048,
    );
  });

  test('toMachineConfig of a created VM resolves its disk in its folder', async () => {
    const { library } = freshLibrary({ createDiskImage: async (file) => writeFile(file, '') });
    const vm = await library.create({
      name: 'Boot me',
      boot: kernelSpec,
      newDisk: { sizeBytes: 1024 ** 3 },
    });
    const machine = toMachineConfig(vm);
    assert.equal(machine.kernelPath, '/boot/vmlinuz');
    assert.deepEqual(machine.disks, [
      { path: path.join(vm.folder, 'disk.qcow2'), readOnly: false },
    ]);
    assert.equal(machine.network?.vmId, vm.id);
    assert.equal(machine.network?.macAddress, vm.config.hardware.network.macAddress);
  });
});

describe('delete', () => {
  test('moves the VM to the trash; it leaves the list', async () => {
    const trashed: string[] = [];
    const { library } = freshLibrary({
      trash: async (folder) => {
        trashed.push(folder);
        await rm(folder, { recursive: true });
        return { method: 'desktop-trash' };
      },
    });
    const vm = await library.create({ name: 'Bye', boot: kernelSpec });
    const outcome = await library.delete({ id: vm.id });
    assert.deepEqual(outcome, { folder: vm.folder, method: 'desktop-trash' });
    assert.deepEqual(trashed, [vm.folder]);
    assert.deepEqual((await library.list()).entries, []);
    await expectLibraryError(library.delete({ id: vm.id }), 'not-found');
  });

  test('without gio, into the library .trash with every file intact', async () => {
    const { root, library } = freshLibrary();
    const vm = await library.create({ name: 'Bye', boot: kernelSpec });
    const text = await readFile(path.join(vm.folder, 'vm.json'), 'utf8');
    const outcome = await library.delete({ id: vm.id });
    assert.equal(outcome.method, 'library-trash');
    assert.equal(path.dirname(outcome.location ?? ''), path.join(root, '.trash'));
    assert.equal(await readFile(path.join(outcome.location ?? '', 'vm.json'), 'utf8'), text);
    assert.deepEqual((await library.list()).entries, []);
  });

  test('a running VM is not deleted; permanently erases only when asked', async () => {
    const running = new Set<string>();
    const { library } = freshLibrary({ isRunning: (id) => running.has(id) });
    const vm = await library.create({ name: 'Busy', boot: kernelSpec });
    running.add(vm.id);
    await expectLibraryError(library.delete({ id: vm.id }), 'vm-running');
    await expectLibraryError(library.delete({ folder: vm.folder }), 'vm-running');
    await stat(vm.folder);
    running.clear();
    assert.deepEqual(await library.delete({ id: vm.id }, { permanently: true }), {
      folder: vm.folder,
      method: 'permanent',
    });
    await assert.rejects(stat(vm.folder), { code: 'ENOENT' });
  });

  test('a broken VM is deleted by its folder; folders outside the library are refused', async () => {
    const { root, base, library } = freshLibrary();
    await writeVmFolder(path.join(root, 'Broken'), '{');
    const outcome = await library.delete({ folder: path.join(root, 'Broken') });
    assert.equal(outcome.method, 'library-trash');
    assert.equal(await readFile(path.join(outcome.location ?? '', 'vm.json'), 'utf8'), '{');
    await mkdir(path.join(base, 'elsewhere'));
    await expectLibraryError(library.delete({ folder: path.join(base, 'elsewhere') }), 'not-found');
    await expectLibraryError(library.delete({ folder: path.join(root, '.trash') }), 'not-found');
    await stat(path.join(base, 'elsewhere'));
  });
});

describe('import', () => {
  test('registers a folder from elsewhere without moving it', async () => {
    const { base, root, library } = freshLibrary();
    const outside = path.join(base, 'usb', 'Imported VM');
    await writeVmFolder(outside, configWithId(ids.a, 'Imported'));
    const vm = await library.import(outside);
    assert.deepEqual(vm, {
      id: ids.a,
      folder: outside,
      imported: true,
      config: configWithId(ids.a, 'Imported'),
    });
    const registry = JSON.parse(await readFile(path.join(root, 'library.json'), 'utf8'));
    assert.deepEqual(registry, { schemaVersion: 1, imported: [outside] });
    const listing = await library.list();
    assert.deepEqual(
      okEntries(listing.entries).map((entry) => [entry.folder, entry.imported]),
      [[outside, true]],
    );
    // An imported VM is a VM like any other.
    const renamed = await library.rename(ids.a, 'Renamed');
    assert.equal(renamed.folder, outside);
    assert.equal(JSON.parse(await readFile(path.join(outside, 'vm.json'), 'utf8')).name, 'Renamed');
  });

  test('refuses foreign, broken, duplicate and already-listed folders', async () => {
    const { base, root, library } = freshLibrary();
    const inside = await library.create({ name: 'Inside', boot: kernelSpec });
    const foreign = path.join(base, 'Documents');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'letter.txt'), 'dear');
    await expectLibraryError(
      library.import(foreign),
      'not-a-vm',
      /is not a Nestbox VM: it has no vm\.json/,
    );
    await expectLibraryError(library.import(path.join(foreign, 'letter.txt')), 'not-a-vm');
    await expectLibraryError(
      library.import(path.join(base, 'nowhere')),
      'not-found',
      /nowhere cannot be opened: there is no such folder\./,
    );

    const broken = path.join(base, 'Broken');
    await writeVmFolder(broken, '{"schemaVersion": 1}');
    const error = await expectLibraryError(library.import(broken), 'broken-vm');
    assert.ok(error.issues.some((issue) => issue.path === 'id' && issue.message === 'missing'));

    const copy = path.join(base, 'Copy');
    await cp(inside.folder, copy, { recursive: true });
    await expectLibraryError(library.import(copy), 'duplicate-id', /same id as "Inside"/);
    await expectLibraryError(library.import(inside.folder), 'already-in-library');

    const outside = path.join(base, 'Outside');
    await writeVmFolder(outside, configWithId(ids.b, 'Outside'));
    await library.import(outside);
    await expectLibraryError(library.import(`${outside}/`), 'already-in-library');
    const registry = JSON.parse(await readFile(path.join(root, 'library.json'), 'utf8'));
    assert.deepEqual(registry.imported, [outside]);
  });

  test('forget leaves the files; a vanished folder is listed as missing until forgotten', async () => {
    const { base, root, library } = freshLibrary();
    const outside = path.join(base, 'Outside');
    await writeVmFolder(outside, configWithId(ids.a, 'Outside'));
    await library.import(outside);
    await library.forget({ id: ids.a });
    assert.deepEqual((await library.list()).entries, []);
    await stat(path.join(outside, 'vm.json'));

    await library.import(outside);
    await rm(outside, { recursive: true });
    const missing = brokenEntry((await library.list()).entries, 'Outside');
    assert.equal(missing.problem.code, 'folder-missing');
    assert.equal(missing.imported, true);
    assert.deepEqual(await library.delete({ folder: outside }), {
      folder: outside,
      method: 'unregistered',
    });
    assert.deepEqual(
      JSON.parse(await readFile(path.join(root, 'library.json'), 'utf8')).imported,
      [],
    );
  });

  test('deleting an imported VM trashes its folder and unregisters it', async () => {
    const { base, library } = freshLibrary({
      trash: async (folder) => {
        await rm(folder, { recursive: true });
        return { method: 'desktop-trash' };
      },
    });
    const outside = path.join(base, 'Outside');
    await writeVmFolder(outside, configWithId(ids.a, 'Outside'));
    await library.import(outside);
    await library.delete({ id: ids.a });
    assert.deepEqual((await library.list()).entries, []);
  });

  test('a broken library.json is reported, left alone, and blocks imports only', async () => {
    const { base, root, library } = freshLibrary();
    const inside = await library.create({ name: 'Inside', boot: kernelSpec });
    const registryText = '{"schemaVersion": 1, "imported": ["relative/path"]}';
    await writeFile(path.join(root, 'library.json'), registryText);
    const listing = await library.list();
    assert.match(listing.registryProblem ?? '', /imported\[0\]: must be an absolute path/);
    assert.deepEqual(
      okEntries(listing.entries).map((vm) => vm.id),
      [inside.id],
    );
    const outside = path.join(base, 'Outside');
    await writeVmFolder(outside, configWithId(ids.a, 'Outside'));
    await expectLibraryError(library.import(outside), 'registry-broken');
    assert.equal(await readFile(path.join(root, 'library.json'), 'utf8'), registryText);
  });
});

describe('concurrency', () => {
  test('50 concurrent changes to one VM are all applied, and the file is never torn', async () => {
    let writing = 0;
    let mostAtOnce = 0;
    const { library } = freshLibrary({
      writeFileAtomic: async (file, data) => {
        writing += 1;
        mostAtOnce = Math.max(mostAtOnce, writing);
        try {
          await atomicWriteFile(file, data);
        } finally {
          writing -= 1;
        }
      },
    });
    const vm = await library.create({ name: 'Contended', boot: kernelSpec });
    const file = path.join(vm.folder, 'vm.json');

    let stop = false;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        const result = validateVmConfig(JSON.parse(await readFile(file, 'utf8')));
        assert.ok(result.ok, 'a reader saw an invalid vm.json');
        reads += 1;
      }
    })();

    const count = 50;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        library.update(vm.id, (current) => ({
          notes: `${current.notes}${i};`,
          hardware: {
            network: {
              portForwards: [
                ...current.hardware.network.portForwards,
                { hostPort: 10_000 + i, guestPort: 22 },
              ],
            },
          },
        })),
      ),
    );
    stop = true;
    await reader;

    const final = await library.get(vm.id);
    const notes = final.config.notes.split(';').filter(Boolean).map(Number);
    assert.deepEqual(
      notes.sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
    );
    assert.equal(final.config.hardware.network.portForwards.length, count);
    assert.equal(mostAtOnce, 1);
    assert.ok(reads > 0);
    assert.deepEqual(await readdir(vm.folder), ['vm.json']);
  });

  test('different VMs are changed in parallel', async () => {
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstFile = '';
    const { library } = freshLibrary({
      writeFileAtomic: async (file, data) => {
        // The first VM's write waits until the second VM has written: if the library
        // serialized all VMs together, this would never finish.
        if (file === firstFile) await firstMayFinish;
        else releaseFirst();
        await atomicWriteFile(file, data);
      },
    });
    const first = await library.create({ name: 'First', boot: kernelSpec });
    const second = await library.create({ name: 'Second', boot: kernelSpec });
    firstFile = path.join(first.folder, 'vm.json');
    const results = await Promise.all([
      library.update(first.id, { notes: 'one' }),
      library.update(second.id, { notes: 'two' }),
    ]);
    assert.deepEqual(
      results.map((vm) => vm.config.notes),
      ['one', 'two'],
    );
  });

  test('a change queued behind a delete finds the VM gone', async () => {
    const { library } = freshLibrary();
    const vm = await library.create({ name: 'Short-lived', boot: kernelSpec });
    const [deleted, updated] = await Promise.allSettled([
      library.delete({ id: vm.id }, { permanently: true }),
      library.update(vm.id, { notes: 'too late' }),
    ]);
    assert.equal(deleted.status, 'fulfilled');
    assert.equal(updated.status, 'rejected');
    assert.equal((updated as PromiseRejectedResult).reason.code, 'not-found');
  });
});

/** Writes the temp file as atomicWriteFile does, then "dies" before the rename. */
async function crashAfterTempWrite(file: string, data: string): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  await writeFile(temp, data);
  throw new Error('simulated crash between the temp write and the rename');
}

describe('atomic writes', () => {
  test('a failure after the temp write leaves the old vm.json; the leftover is cleaned later', async () => {
    let crash = false;
    const { library } = freshLibrary({
      writeFileAtomic: (file, data) =>
        crash ? crashAfterTempWrite(file, data) : atomicWriteFile(file, data),
    });
    const vm = await library.create({ name: 'Durable', boot: kernelSpec });
    const file = path.join(vm.folder, 'vm.json');
    const before = await readFile(file, 'utf8');
    crash = true;
    await assert.rejects(library.update(vm.id, { notes: 'lost' }), /simulated crash/);
    assert.equal(await readFile(file, 'utf8'), before);
    const leftovers = (await readdir(vm.folder)).filter((name) => name !== 'vm.json');
    assert.equal(leftovers.length, 1);
    // The leftover does not disturb reading.
    assert.equal((await library.get(vm.id)).config.notes, '');

    // An old leftover (no writer can still own it) goes with the next write.
    const old = new Date(Date.now() - 60 * 60 * 1000);
    await utimes(path.join(vm.folder, leftovers[0] ?? ''), old, old);
    crash = false;
    await library.update(vm.id, { notes: 'kept' });
    assert.deepEqual(await readdir(vm.folder), ['vm.json']);
    assert.equal((await library.get(vm.id)).config.notes, 'kept');
  });

  test('a process killed between the temp write and the rename leaves the old vm.json', async () => {
    const { base, library } = freshLibrary();
    const vm = await library.create({ name: 'Killed', boot: kernelSpec });
    const file = path.join(vm.folder, 'vm.json');
    const before = await readFile(file, 'utf8');
    const script = path.join(base, 'die-before-rename.mjs');
    const libraryModule = pathToFileURL(
      path.join(path.dirname(fileURLToPath(import.meta.url)), 'vm-library.ts'),
    ).href;
    await writeFile(
      script,
      [
        "import fsp from 'node:fs/promises';",
        "import { syncBuiltinESMExports } from 'node:module';",
        'const realRename = fsp.rename;',
        'fsp.rename = async (from, to) => {',
        "  if (String(to).endsWith('vm.json')) process.kill(process.pid, 'SIGKILL');",
        '  return realRename(from, to);',
        '};',
        'syncBuiltinESMExports();',
        `const { VmLibrary } = await import(${JSON.stringify(libraryModule)});`,
        `const library = new VmLibrary({ root: ${JSON.stringify(library.root)} });`,
        `await library.update(${JSON.stringify(vm.id)}, { notes: 'never written' });`,
        "console.log('survived');",
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, sig) => resolve(sig)),
    );
    assert.equal(signal, 'SIGKILL', output);
    assert.equal(await readFile(file, 'utf8'), before);
    const temps = (await readdir(vm.folder)).filter((name) => name !== 'vm.json');
    assert.equal(temps.length, 1, 'the temp file was written before the kill');
    assert.match(await readFile(path.join(vm.folder, temps[0] ?? ''), 'utf8'), /never written/);
    assert.equal((await library.get(vm.id)).config.notes, '');
  });
});
