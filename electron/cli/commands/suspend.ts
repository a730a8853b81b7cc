/** `nestbox suspend NAME`: saves a running VM's whole state and stops it. */
import { VmHostError } from '../../services/vm-host/vm-host-client.ts';
import { ExitCode, type Command } from '../command.ts';
import {
  NAME_HELP,
  VM_EXIT_STATUS,
  connectToVm,
  lookupVm,
  parseVmCommand,
  vmServices,
} from '../vm-commands.ts';

/** After the state is saved, how long the host may take to let go of the VM and exit. */
const EXIT_WAIT_MS = 30_000;

export const suspendCommand: Command = {
  name: 'suspend',
  summary: 'Save a running VM to disk and stop it; `start` or `resume` continues it',
  usage: [
    'Usage: nestbox suspend NAME [--json]',
    '',
    "Saves the VM's memory, devices and CPU state next to its disks and stops its VM host;",
    'returns once the host has exited. `nestbox start NAME` or `nestbox resume NAME`',
    'continues exactly where it was.',
    NAME_HELP,
    '',
    'Options:',
    '  --json   print {"id", "name", "state"}',
    '  --help   show this help',
    '',
    VM_EXIT_STATUS,
  ].join('\n'),

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME'], {
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const services = await vmServices(context);
    const vm = await lookupVm(services, parsed.positionals[0] ?? '');
    const client = await connectToVm(services, vm);
    try {
      await client.call('suspend');
      // The host exits right after answering: wait, so what follows finds the VM suspended.
      await Promise.race([
        client.closed,
        new Promise((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref()),
      ]);
    } catch (error) {
      if (error instanceof VmHostError) {
        throw new Error(`suspend "${vm.config.name}": ${error.message}`, { cause: error });
      }
      throw error;
    } finally {
      client.destroy();
    }
    const status = await services.registry.status(vm);
    if (parsed.values.json) {
      context.stdout(
        JSON.stringify({ id: vm.id, name: vm.config.name, state: status.state }, null, 2),
      );
    } else {
      context.stdout(`Suspended "${vm.config.name}"`);
    }
    return ExitCode.ok;
  },
};
