/**
 * `nestbox import FOLDER [--json]` as a user runs it: the CLI in this process (runCli with the
 * real commands, captured output) on a library in a temporary NESTBOX_HOME, with VM folders
 * outside it. No VM host or /dev/kvm is involved.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, sampleConfig } from '../../services/library/test-fixtures.ts';
import { serializeVmConfig } from '../../services/library/vm-config.ts';
import {
  runNestbox,
  runNestboxJson,
  runNestboxOk,
  type CliResult,
} from '../testing/run-nestbox.ts';

interface ListedJson {
  vms: { id: string; name: string; folder: string; state: string }[];
}

const ALPINE_ID = '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f';
const DEBIAN_ID = '0a3f5b0c-1d2e-4f30-8a4b-5c6d7e8f9a0b';

let base: string;
let cleanup: () => Promise<void>;
let env: NodeJS.ProcessEnv;

async function vmFolder(name: string, content: string): Promise<string> {
  const folder = path.join(base, 'elsewhere', name);
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'vm.json'), content);
  return folder;
}

async function fails(args: string[], status: number, message: RegExp): Promise<CliResult> {
  const run = await runNestbox(env, args);
  assert.equal(run.status, status, `nestbox ${args.join(' ')}: ${run.stderr}`);
  assert.match(run.stderr, message, `nestbox ${args.join(' ')}`);
  assert.doesNotMatch(run.stderr, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace');
  assert.equal(run.stdout, '');
  return run;
}

async function importedFolders(): Promise<string[]> {
  const text = await readFile(path.join(base, 'vms', 'library.json'), 'utf8');
  return (JSON.parse(text) as { imported: string[] }).imported;
}

describe('nestbox import', () => {
  before(async () => {
    ({ dir: base, cleanup } = await makeTempDir('cli-import'));
    env = { NESTBOX_HOME: base, XDG_RUNTIME_DIR: path.join(base, 'runtime'), PATH: '' };
  });
  after(() => cleanup());

  test('adds a VM folder where it is, says so, and lists it', async () => {
    const folder = await vmFolder('Alpine', serializeVmConfig(sampleConfig()));
    const run = await runNestboxOk(env, ['import', folder]);
    assert.equal(run.stdout, `Added "Alpine" to the library (${folder})\n`);
    assert.equal(run.stderr, '');
    const listed = await runNestboxJson<ListedJson>(env, ['list']);
    assert.deepEqual(
      listed.vms.map(({ id, name, folder: at, state }) => ({ id, name, folder: at, state })),
      [{ id: ALPINE_ID, name: 'Alpine', folder, state: 'off' }],
    );
    assert.deepEqual(await importedFolders(), [folder]);
  });

  test('--json prints the VM for scripts; a relative FOLDER starts at the working directory', async () => {
    const folder = await vmFolder(
      'Debian',
      serializeVmConfig(sampleConfig({ id: DEBIAN_ID, name: 'Debian' })),
    );
    const relative = path.relative(process.cwd(), folder);
    assert.ok(!path.isAbsolute(relative));
    const vm = await runNestboxJson<{ id: string; name: string; folder: string }>(env, [
      'import',
      relative,
    ]);
    assert.deepEqual(vm, { id: DEBIAN_ID, name: 'Debian', folder });
  });

  test('a folder already in the library is refused (exit 1)', async () => {
    const folder = path.join(base, 'elsewhere', 'Alpine');
    await fails(['import', folder], 1, /^nestbox: "Alpine" .*Alpine is already in the library\.$/m);
    await fails(['import', `${folder}/`], 1, /is already in the library/);
  });

  test('a folder that is not a VM, or not there, or a file, is refused with the reason', async () => {
    const documents = path.join(base, 'Documents');
    await mkdir(documents, { recursive: true });
    await writeFile(path.join(documents, 'letter.txt'), 'dear');
    await fails(['import', documents], 1, /is not a Nestbox VM: it has no vm\.json/);
    await fails(['import', path.join(base, 'nowhere')], 1, /there is no such folder/);
    await fails(
      ['import', path.join(documents, 'letter.txt')],
      1,
      /is a file, not a Nestbox VM folder/,
    );
  });

  test('a broken vm.json is refused with each problem and what to do; the file is left alone', async () => {
    const text = serializeVmConfig(sampleConfig({ id: DEBIAN_ID, name: 'Broken' }))
      .replace('"cpus": 2', '"cpus": 0')
      .replace('"memoryMiB": 1024', '"memoryMiB": "lots"');
    const folder = await vmFolder('Broken', text);
    const run = await fails(['import', folder], 1, /vm\.json has 2 problems:/);
    assert.match(run.stderr, /^hardware\.cpus: /m);
    assert.match(run.stderr, /^hardware\.memoryMiB: /m);
    assert.match(run.stderr, /Fix its vm\.json .*then import the folder again/);
    assert.equal(await readFile(path.join(folder, 'vm.json'), 'utf8'), text);
  });

  test('a copy of a VM in the library is refused', async () => {
    const copy = await vmFolder('Alpine copy', serializeVmConfig(sampleConfig({ name: 'Twin' })));
    await fails(['import', copy], 1, /same id as "Alpine".*copy of a VM already in the library/);
  });

  test('none of the refusals changed the library', async () => {
    const folders = await importedFolders();
    assert.deepEqual(folders.map((folder) => path.basename(folder)).sort(), ['Alpine', 'Debian']);
  });

  test('bad arguments exit 2; --help shows the usage; nestbox --help lists import', async () => {
    await fails(['import'], 2, /FOLDER required/);
    await fails(['import', '/a', '/b'], 2, /unexpected argument "\/b"/);
    await fails(['import', '--force', '/a'], 2, /--force/);
    const help = await runNestboxOk(env, ['import', '--help']);
    assert.match(help.stdout, /^Usage: nestbox import FOLDER \[--json\]/);
    assert.match(help.stdout, /Exit status:/);
    const global = await runNestboxOk(env, ['--help']);
    assert.match(global.stdout, /^ {2}import\s+Add a VM folder from elsewhere/m);
  });
});
