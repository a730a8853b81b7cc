/** `nestbox import FOLDER`: adds a VM folder from elsewhere to the library, where it is. */
import path from 'node:path';
import { LibraryError } from '../../services/library/library-error.ts';
import type { LibraryVm } from '../../services/library/vm-library.ts';
import { ExitCode, type Command } from '../command.ts';
import { parseVmCommand, vmServices } from '../vm-commands.ts';

export const importCommand: Command = {
  name: 'import',
  summary: 'Add a VM folder from elsewhere (another drive, a backup) to the library',
  usage: [
    'Usage: nestbox import FOLDER [--json]',
    '',
    'Adds the VM in FOLDER (a folder holding its vm.json, as Nestbox made it) to the library',
    'without moving or copying it: the library remembers where it is (library.json), and the',
    'VM works like any other. `nestbox delete` on it moves the folder to the trash.',
    'A VM whose folder is moved away later is listed as missing until it is deleted.',
    '',
    'Options:',
    '  --json   print the VM as JSON: {"id", "name", "folder"}',
    '  --help   show this help',
    '',
    'Exit status:',
    '  0  added',
    '  1  failed: FOLDER is not there or has no vm.json, its vm.json is broken (each',
    '     problem is listed), it is in the library already, or it is a copy of a VM',
    '     in the library (the same id)',
    '  2  bad arguments',
  ].join('\n'),

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['FOLDER'], {
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const {
      values,
      positionals: [folder = ''],
    } = parsed;
    const services = await vmServices(context);
    let vm: LibraryVm;
    try {
      vm = await services.library.import(path.resolve(folder));
    } catch (error) {
      if (error instanceof LibraryError && error.code === 'broken-vm') {
        throw new Error(
          `${error.message}\nFix its vm.json (or restore it from a backup), then import the folder again.`,
          { cause: error },
        );
      }
      throw error;
    }
    if (values.json) {
      context.stdout(
        JSON.stringify({ id: vm.id, name: vm.config.name, folder: vm.folder }, null, 2),
      );
    } else {
      context.stdout(`Added "${vm.config.name}" to the library (${vm.folder})`);
    }
    return ExitCode.ok;
  },
};
