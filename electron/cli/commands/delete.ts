/** `nestbox delete NAME [--permanently]`: removes a VM from the library (to the trash). */
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import { prepareToDeleteVm } from '../../services/vm-host/vm-clone.ts';
import { VmSnapshots } from '../../services/vm-host/vm-snapshots.ts';
import { LibraryError } from '../../services/library/library-error.ts';
import type { DeleteOutcome, VmTarget } from '../../services/library/vm-library.ts';
import { VmLookupError, findVm } from '../../services/vm-host/vm-services.ts';
import { ExitCode, type Command } from '../command.ts';
import { NAME_HELP, parseVmCommand, vmServices } from '../vm-commands.ts';

function describe(outcome: DeleteOutcome): string {
  switch (outcome.method) {
    case 'permanent':
      return `erased ${outcome.folder}`;
    case 'unregistered':
      return `its folder ${outcome.folder} was already gone; it is off the list`;
    default:
      return `moved ${outcome.folder} to the trash${outcome.location ? ` (${outcome.location})` : ''}`;
  }
}

export const deleteCommand: Command = {
  name: 'delete',
  summary: 'Delete a VM that is not running (to the trash)',
  usage: [
    'Usage: nestbox delete NAME [--permanently] [--json]',
    '',
    'Deletes a VM: its folder (vm.json, disks made with it, logs) goes to the desktop trash,',
    "or to the library's .trash folder where there is none, so it can be restored. Files the",
    'VM only refers to (a kernel, a disk given with --disk) stay where they are. A running',
    'VM is refused: stop it first. A broken VM folder can be deleted by its folder name.',
    NAME_HELP,
    '',
    'Options:',
    '  --permanently   erase the folder instead of moving it to the trash',
    '  --json          print {"folder", "method", "location"?}',
    '  --help          show this help',
    '',
    'Exit status:',
    '  0  deleted',
    '  1  failed: no such VM, the VM is running, or the folder could not be moved',
    '  2  bad arguments',
  ].join('\n'),

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME'], {
      permanently: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const {
      values,
      positionals: [name = ''],
    } = parsed;
    const services = await vmServices(context);
    const listing = await services.library.list();
    let target: VmTarget;
    let label: string;
    try {
      const vm = findVm(listing, name);
      target = { id: vm.id };
      label = `"${vm.config.name}"`;
      await services.registry.clearDeadHost(vm);
      await prepareToDeleteVm(services.library, new VmSnapshots(services, loadNativeAddon), vm);
    } catch (error) {
      if (!(error instanceof VmLookupError && error.broken)) throw error;
      target = { folder: error.broken.folder };
      label = error.broken.folder;
    }
    let outcome: DeleteOutcome;
    try {
      outcome = await services.library.delete(target, { permanently: values.permanently ?? false });
    } catch (error) {
      if (error instanceof LibraryError && error.code === 'vm-running') {
        throw new Error(`${error.message} (\`nestbox stop ${name}\`)`, { cause: error });
      }
      throw error;
    }
    if (values.json) {
      context.stdout(JSON.stringify(outcome, null, 2));
    } else {
      context.stdout(`Deleted ${label}: ${describe(outcome)}`);
    }
    return ExitCode.ok;
  },
};
