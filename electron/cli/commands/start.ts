/** `nestbox start NAME`: runs a VM in a VM host process of its own. */
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import { vmLogPath } from '../../services/vm-host/runtime-files.ts';
import { VmSnapshots } from '../../services/vm-host/vm-snapshots.ts';
import { VmStartError } from '../../services/vm-host/vm-host-registry.ts';
import { ExitCode, type Command } from '../command.ts';
import { NAME_HELP, lookupVm, parseVmCommand, vmServices } from '../vm-commands.ts';

export const startCommand: Command = {
  name: 'start',
  summary: 'Start a VM in the background, in its own VM host process',
  usage: [
    'Usage: nestbox start NAME [--discard-suspended] [--json]',
    '',
    'Starts the VM in a VM host process of its own and returns once the VM runs. The VM',
    'keeps running after this command (and the terminal) ends; reach it with',
    '`nestbox console NAME`, stop it with `nestbox stop NAME`. Its log is',
    '<folder>/logs/vm.log.',
    NAME_HELP,
    '',
    'A suspended VM continues where it was suspended.',
    '',
    'Options:',
    '  --discard-suspended   throw away the suspended state and boot afresh',
    '  --json   print {"id", "name", "pid", "socket", "log"}',
    '  --help   show this help',
    '',
    'Exit status:',
    '  0  the VM runs',
    '  1  it could not start: already running, no such VM, or the reason the VM host gave',
    '     (a missing kernel, a corrupt disk image, no access to /dev/kvm…)',
    '  2  bad arguments',
  ].join('\n'),

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME'], {
      json: { type: 'boolean' },
      'discard-suspended': { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const {
      values,
      positionals: [name = ''],
    } = parsed;
    const services = await vmServices(context);
    const vm = await lookupVm(services, name);
    if (values['discard-suspended']) {
      const status = await services.registry.status(vm);
      if (status.state === 'suspended') {
        const store = await new VmSnapshots(services, loadNativeAddon).openStore(vm);
        await store.clearResume();
        context.stderr(`discarded the suspended state of "${vm.config.name}"`);
      }
    }
    let started;
    try {
      started = await services.registry.start(vm);
    } catch (error) {
      if (error instanceof VmStartError) {
        if (error.code === 'already-running') throw new Error(error.message, { cause: error });
        throw new Error(`cannot start "${vm.config.name}": ${error.message} [${error.code}]`, {
          cause: error,
        });
      }
      throw error;
    }
    const log = vmLogPath(vm.folder);
    if (values.json) {
      context.stdout(
        JSON.stringify(
          { id: vm.id, name: vm.config.name, pid: started.pid, socket: started.socketPath, log },
          null,
          2,
        ),
      );
    } else {
      context.stdout(`Started "${vm.config.name}" (VM host pid ${started.pid}); log: ${log}`);
    }
    return ExitCode.ok;
  },
};
